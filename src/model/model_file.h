// Model files for inference: an exported, weights-only file (kind "model",
// optionally fp16) or a training checkpoint. Same container as checkpoints
// (train/checkpoint.h): magic, version, meta JSON with the config, archive.
#pragma once
#include <string>

#include "model/syncnet.h"
#include "model/synctalkface.h"

namespace stf {

// models/synctalkface_lite.stfm in the source tree ($STF_MODELS_DIR overrides the folder).
std::string default_model_path();
// models/syncnet_lite.stfm: the SyncNet expert trained with the default model (eval's LSE).
std::string default_syncnet_path();
// examples/grace_hopper_512x512.jpg beside the models folder: a public-domain face photo.
std::string bundled_example_face();

// Writes the trained network of a checkpoint (the generator, or the SyncNet
// of a train-sync checkpoint) without optimiser state, in fp16 or fp32.
// Returns the module name written ("generator" or "syncnet").
std::string export_model(const std::string& checkpoint, const std::string& out, bool fp16);

// The generator of an exported model or a `train` checkpoint, in fp32 eval
// mode. Throws stf::Error naming the file when it is anything else.
SyncTalkFace load_generator(const std::string& path);
// The SyncNet of an exported model or a `train-sync` checkpoint, eval mode.
SyncNet load_syncnet(const std::string& path);

}  // namespace stf
