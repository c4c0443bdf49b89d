// Shared pieces of the subcommands: the --threads option and the command
// registry that main.cpp dispatches through.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace stf::cli {

// Adds `--threads N` (default 0 = all cores) to a subcommand.
void add_threads_option(CLI::App* cmd, int& threads);

// Each subcommand file defines one of these: it declares the subcommand and
// its options on `root` and sets its callback.
void add_probe_command(CLI::App& root);
void add_mel_command(CLI::App& root);

}  // namespace stf::cli
