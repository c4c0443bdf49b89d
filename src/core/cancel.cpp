#include "stf/cancel.h"

#include <atomic>
#include <csignal>
#include <signal.h>

#include "stf/error.h"

namespace stf {

namespace {
std::atomic<bool> g_cancelled{false};
extern "C" void on_signal(int sig) {
  if (g_cancelled.exchange(true)) {  // a second Ctrl-C: stop now
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace

void install_cancel_handler() {
  // SIGHUP: the terminal closed. A signal ignored when the program started
  // (nohup's SIGHUP, a script's background job's SIGINT) stays ignored.
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction now {};
    if (sigaction(sig, nullptr, &now) == 0 && now.sa_handler == SIG_IGN) continue;
    std::signal(sig, on_signal);
  }
}

bool cancelled() { return g_cancelled.load(); }

void check_cancelled() {
  if (cancelled()) throw Error("interrupted; no output was written");
}

}  // namespace stf
