// synctalkface: dispatches to the subcommands in cmd_*.cpp. Errors from the
// library become one line on stderr and exit status 2.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/common.h"
#include "stf/cancel.h"
#include "stf/error.h"

int main(int argc, char** argv) {
#ifdef STF_DETECTOR_AVX2  // CMake option STF_AVX2: the face detector was built with AVX2 and FMA
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::fprintf(stderr, "error: this build of synctalkface needs a CPU with AVX2 and FMA (it was configured on "
                         "one); build it on this machine, or configure with -DSTF_AVX2=OFF\n");
    return 2;
  }
#endif
  stf::install_cancel_handler();
  CLI::App app{"SyncTalkFace: audio-driven lip-sync (AAAI 2022 Audio-Lip Memory)", "synctalkface"};
  app.set_version_flag("--version", std::string("synctalkface ") + STF_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
#ifdef STF_MODEL_ONLY  // a training-only build (CMake option STF_MODEL_ONLY, docs/gpu.md)
  stf::cli::add_train_commands(app);
  stf::cli::add_export_command(app);
#else
  stf::cli::add_generate_command(app);
  stf::cli::add_probe_command(app);
  stf::cli::add_mel_command(app);
  stf::cli::add_faces_command(app);
  stf::cli::add_preprocess_command(app);
  stf::cli::add_train_commands(app);
  stf::cli::add_export_command(app);
  stf::cli::add_eval_command(app);
  stf::cli::add_synth_command(app);
  stf::cli::add_memory_command(app);
#endif
  std::string names;
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "error: unknown command '%s'; commands: %s\n", argv[1], names.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see --help)\n", e.what());
    return 2;
  } catch (const stf::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // from a library
    std::fprintf(stderr, "error: %s\n", stf::first_line(e.what()).c_str());
    return 1;
  }
  return 0;
}
