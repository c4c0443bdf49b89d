#include "core/progress.h"

#include <cstdio>
#include <unistd.h>

namespace stf {

static std::string format_seconds(double s) {
  if (s < 0 || s > 1e7) return "--:--";
  int t = static_cast<int>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%02d:%02d", t / 60, t % 60);
  return buf;
}

Progress::Progress(std::string label, int64_t total, std::string unit, bool enabled, int64_t first)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), first_(first), done_(first), enabled_(enabled),
      tty_(isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (tty_ && enabled_ && !finished_ && done_ > first_) std::fputc('\n', stderr);
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  extra_ = extra;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : 5.0)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  if (tty_ || drawn_ != done_) draw(true);  // a log gets no second line for the same count
  finished_ = true;
}

void Progress::draw(bool final) {
  if (!enabled_) return;
  drawn_ = done_;
  double el = elapsed();
  double rate = el > 0 ? (done_ - first_) / el : 0;
  std::string line = label_ + " ";
  char buf[160];
  if (total_ > 0) {
    double frac = std::min(1.0, double(done_) / total_);
    if (tty_) {
      const int width = 28;
      int fill = static_cast<int>(frac * width);
      line += "[" + std::string(fill, '#') + std::string(width - fill, '.') + "] ";
    }
    double eta = rate > 0 ? (total_ - done_) / rate : -1;
    std::snprintf(buf, sizeof buf, "%3d%% %lld/%lld %s, %.1f %s/s, elapsed %s, ETA %s",
                  static_cast<int>(frac * 100), static_cast<long long>(done_),
                  static_cast<long long>(total_), unit_.c_str(), rate, unit_.c_str(),
                  format_seconds(el).c_str(), final ? "00:00" : format_seconds(eta).c_str());
  } else {
    std::snprintf(buf, sizeof buf, "%lld %s, %.1f %s/s, elapsed %s",
                  static_cast<long long>(done_), unit_.c_str(), rate, unit_.c_str(),
                  format_seconds(el).c_str());
  }
  line += buf;
  if (!extra_.empty()) line += "  " + extra_;
  if (tty_) std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace stf
