// synctalkface generate --face VIDEO|PHOTO (--audio FILE [--transcript "..."] | --text "...")
// --outfile OUT.mp4: the main job.
#include <cstdio>

#include "cli/common.h"
#include "cli/face_options.h"
#include "pipeline/generate.h"
#include "stf/threads.h"

namespace stf::cli {

void add_generate_command(CLI::App& root) {
  struct Opts {
    GenerateOptions gen;
    FaceCliOptions face;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand(
      "generate", "Lip-sync a video or photo to speech: the lower face is re-rendered to match the audio");
  cmd->footer(
      "Examples:\n"
      "  synctalkface generate --face talk.mp4 --audio speech.wav --outfile out.mp4\n"
      "  synctalkface generate --face photo.jpg --text \"Hello there\" --outfile out.mp4\n"
      "  synctalkface generate --face photo.jpg --audio hello.wav --transcript \"Hello there\" --outfile out.mp4");
  cmd->add_option("--face", o->gen.face, "Video or photo with the face")->required();
  auto* audio = cmd->add_option("--audio", o->gen.audio, "Speech: any audio file, or a video with sound (the output carries it as recorded); on a photo its loudness also opens the mouth");
  auto* text = cmd->add_option("--text", o->gen.text, "Speech: text to speak (espeak-ng); its phonemes also close the lips on p, b, m and, on a photo, round, spread and open them");
  text->check([](const std::string& t) {
    return t.find_first_not_of(" \t\r\n") == std::string::npos ? std::string("empty: give the words to speak") : std::string();
  });
  audio->excludes(text);
  cmd->add_option("--transcript", o->gen.transcript,
                  "With --audio: the words it says. Their phonemes (espeak-ng's, aligned to the recording) act as "
                  "--text's do: the lips close on p, b, m and, on a photo, round, spread and open")
      ->needs(audio);
  cmd->add_option("--voice", o->gen.voice,
                  "espeak-ng voice for --text and --transcript (e.g. en, en-us, de; a variant after +: en-us+f3)")
      ->default_val("en");
  cmd->add_option("--outfile", o->gen.outfile, "Output video (.mp4, .m4v or .mov): H.264 + AAC; written only when complete")->required();
  cmd->add_option("--model", o->gen.model, "Model file (default: the bundled lite model)");
  cmd->add_option("--batch", o->gen.batch, "Face crops per model call")->default_val(16)->check(range(1, 1024));
  cmd->add_option("--crf", o->gen.crf, "H.264 quality of the output: 0 = lossless (large files), 18 = visually lossless, higher = smaller")
      ->default_val(GenerateOptions{}.crf)->check(range(0, 51));
  cmd->add_option("--preset", o->gen.preset,
                  "H.264 encoder speed: faster presets take less CPU for larger files at the same --crf (on a 720p "
                  "clip, superfast and ultrafast took 58% and 37% of veryfast's encoding CPU, for 1.9-2.1x the size)")
      ->default_val(GenerateOptions{}.preset)
      ->check(CLI::IsMember({"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}));
  cmd->add_option("--precision", o->gen.precision,
                  "Model number format: fp32, bf16, or auto (bf16 on CPUs with bfloat16 units, AMX or AVX512_BF16, "
                  "where it is faster; fp32 elsewhere)")
      ->default_val("auto")->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  cmd->add_option("--loop", o->gen.loop,
                  "Audio longer than the video: pingpong (forward then backward), repeat, none (cut the audio)")
      ->default_val("pingpong")->check(CLI::IsMember({"pingpong", "repeat", "none"}));
  cmd->add_option("--loop-memory", o->gen.loop_memory_mb,
                  "MB: a looped video's frames are kept in memory up to this; a longer video's are read again from "
                  "the file (backward in chunks of this size, at least 16 frames: slower, memory stays flat)")
      ->default_val(GenerateOptions{}.loop_memory_mb)->check(range(0.0, 1e6));
  cmd->add_option("--fps", o->gen.fps, "Output frame rate for a photo (a video keeps its own)")
      ->default_val(25)->check(range(1.0, 120.0));
  cmd->add_option("--ref-choice", o->gen.ref_choice,
                  "Seconds: pick each video frame's reference among its face's crops from --ref-lag to --ref-lag + "
                  "this before, the one posed like the frame whose mouth is as open as the speech is loud (0 = exactly --ref-lag before)")
      ->default_val(2.0)
      ->check(range(0.0, 10.0));
  cmd->add_option("--ref-lag", o->gen.ref_lag,
                  "Seconds: each video frame is drawn with its own face from this long before as the reference "
                  "image (0 with --ref-choice 0 = the frame itself, which keeps more of the original mouth)")
      ->default_val(1.0)
      ->check(range(0.0, 10.0));
  cmd->add_option("--guidance-scale", o->gen.guidance_scale,
                  "How far the mouth moves with the speech: the model's audio feature taken this many times as far "
                  "from silence's (1 = as trained; higher opens the mouth wider, and past ~4 blurs it; silence "
                  "keeps the mouth closed at any value)")
      ->default_val(3.0)
      ->check(range(0.0, 10.0));
  cmd->add_option("--resize-factor", o->gen.resize_factor, "Shrink the input by this factor first (faster; smaller output)")
      ->default_val(1)->check(range(1.0, 16.0));
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  add_threads_option(cmd, o->threads);
  add_face_options(cmd, o->face);
  add_render_options(cmd, o->face);
  add_strict_option(cmd, o->face);
  cmd->callback([o] {
    const int threads = set_threads(o->threads);
    warn_if_slow_precision(o->gen.precision);
    GenerateOptions g = o->gen;
    g.model_threads = o->threads > 0 ? threads : 0;
    g.tracker = tracker_options(o->face);
    g.crop = crop_options(o->face, 0);
    g.blend = blend_options(o->face);
    g.strict = o->face.strict;
    g.quiet = o->json;
    GenerateSummary s = generate(g);
    if (o->json) {
      std::printf("%s\n", s.to_json().dump(1).c_str());
      return;
    }
    std::printf("%s: %s (%lld with a face) at %.2f fps, %.2f s of audio; %.1f s, %.1f frames/s, model in %s\n",
                s.outfile.c_str(), counted(s.frames, "frame").c_str(), static_cast<long long>(s.frames_with_face),
                s.fps, s.audio_seconds, s.wall_seconds, s.frames_per_second, s.precision.c_str());
    if (s.frames_with_face < s.frames)
      std::printf("%s without a face found: as in the input (a face turned to profile or under ~70 px "
                  "across is not found; --box gives its place by hand)\n",
                  counted(s.frames - s.frames_with_face, "frame").c_str());
    if (s.held_frames > 0)
      std::printf("the last %s the video's last frame again: it ended before the length its header "
                  "states (a truncated file?)\n",
                  counted(s.held_frames, "frame").c_str());
  });
}

}  // namespace stf::cli
