// Shared pieces of the subcommands: the --threads option and the command
// registry that main.cpp dispatches through.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace stf::cli {

// Adds `--threads N` (default 0 = all cores) to a subcommand.
void add_threads_option(CLI::App* cmd, int& threads);

// Number checks whose error reads "--steps: must be more than 0, not -2"
// or "--crf: must be from 0 to 51, not 60" (CLI11's own name a range up to
// 1.8e308, in six decimals).
CLI::Validator positive();
CLI::Validator non_negative();
CLI::Validator range(double lo, double hi);
CLI::Validator finite();  // any number but nan and inf (which parse as numbers)

// A warning on stderr when `--precision bf16` was asked for on a CPU without
// bfloat16 units (AMX or AVX512_BF16), where oneDNN runs bfloat16 far slower
// than float32 (on an AVX2 CPU the lite model 24x, `generate` 6x, a `train`
// step 13x: docs/performance.md).
void warn_if_slow_precision(const std::string& precision);

// "1 frame", "3 frames": a count and its noun (plural by an s) for the
// commands' summary lines.
std::string counted(long long n, const std::string& noun);

// Each subcommand file defines one of these: it declares the subcommand and
// its options on `root` and sets its callback.
void add_probe_command(CLI::App& root);
void add_mel_command(CLI::App& root);
void add_faces_command(CLI::App& root);
void add_preprocess_command(CLI::App& root);
void add_train_commands(CLI::App& root);  // train-sync and train
void add_export_command(CLI::App& root);
void add_generate_command(CLI::App& root);
void add_eval_command(CLI::App& root);
void add_synth_command(CLI::App& root);
void add_memory_command(CLI::App& root);

}  // namespace stf::cli
