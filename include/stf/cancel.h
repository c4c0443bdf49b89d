// Ctrl-C handling: the first SIGINT/SIGTERM/SIGHUP sets a flag that long loops poll
// through check_cancelled(), which throws so destructors remove partial files.
#pragma once

namespace stf {

void install_cancel_handler();
bool cancelled();
void check_cancelled();  // throws stf::Error("interrupted") once cancelled

}  // namespace stf
