#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "stf/media.h"

namespace stf {

namespace {

std::string base64(const std::string& text) {
  auto bytes = reinterpret_cast<const uint8_t*>(text.data());
  const size_t size = text.size();
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    uint32_t v = uint32_t(bytes[i]) << 16;
    if (i + 1 < size) v |= uint32_t(bytes[i + 1]) << 8;
    if (i + 2 < size) v |= bytes[i + 2];
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < size ? table[(v >> 6) & 63] : '=';
    out += i + 2 < size ? table[v & 63] : '=';
  }
  return out;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string cell(const nlohmann::json& v, const char* format) {
  if (v.is_string()) return escape(v.get<std::string>());
  if (!v.is_number()) return "&ndash;";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v.get<double>());
  return buf;
}

struct Metric {
  const char* key;
  const char* title;
  const char* format;
};
const Metric kMetrics[] = {{"psnr", "PSNR (dB) &uarr;", "%.2f"},
                           {"ssim", "SSIM &uarr;", "%.4f"},
                           {"lmd", "LMD (crop px) &darr;", "%.3f"},
                           {"lmd_norm", "LMD / IOD &darr;", "%.4f"},
                           {"mouth_corr", "mouth opening r &uarr;", "%.3f"},
                           {"mouth_range", "mouth opening's spread / real's (1 = as wide)", "%.3f"},
                           {"mouth_sharpness", "mouth detail / real's (1 = as sharp)", "%.3f"},
                           {"mouth_motion", "mouth change per frame / real's (1 = as lively)", "%.3f"},
                           {"mouth_flicker", "mouth flicker / real's (1 = as steady)", "%.3f"},
                           {"driver_corr", "speaker's mouth r &uarr;", "%.3f"},
                           {"lmd_truth", "LMD to truth / IOD &darr;", "%.4f"},
                           {"lse_d", "LSE-D* &darr;", "%.3f"},
                           {"lse_c", "LSE-C* &uarr;", "%.3f"},
                           {"offset", "sync offset (frames)", "%.0f"}};

const cv::Scalar kColours[] = {{90, 90, 90}, {60, 160, 230}, {200, 110, 40}, {80, 170, 60}};

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace

std::string embedded_png(const cv::Mat& image, const std::string& alt) {
  return "<img alt=\"" + escape(alt) + "\" src=\"data:image/png;base64," + base64(encode_png(image)) + "\">";
}

cv::Mat bar_chart(const std::string& title, const std::vector<std::string>& labels,
                  const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  const int group = std::max<int>(60, 22 * static_cast<int>(series.size()) + 16), left = 60, top = 40, plot_h = 200;
  const int width = left + group * static_cast<int>(labels.size()) + 20, height = top + plot_h + 70;
  cv::Mat img(height, std::max(width, 540), CV_8UC3, cv::Scalar(255, 255, 255));
  double hi = 0;
  for (const auto& s : series)
    for (double v : s.second)
      if (std::isfinite(v)) hi = std::max(hi, v);
  if (hi <= 0) hi = 1;
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  cv::putText(img, title, {10, 22}, font, 0.5, {20, 20, 20}, 1, cv::LINE_AA);
  const int base = top + plot_h;
  cv::line(img, {left, base}, {img.cols - 10, base}, {0, 0, 0});
  cv::line(img, {left, top}, {left, base}, {0, 0, 0});
  for (int t = 0; t <= 4; ++t) {  // axis ticks
    const int y = base - plot_h * t / 4;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", hi * t / 4);
    cv::putText(img, buf, {4, y + 4}, font, 0.35, {60, 60, 60}, 1, cv::LINE_AA);
    cv::line(img, {left - 3, y}, {left, y}, {0, 0, 0});
  }
  for (size_t g = 0; g < labels.size(); ++g) {
    const int x0 = left + 8 + static_cast<int>(g) * group;
    for (size_t s = 0; s < series.size(); ++s) {
      const double v = g < series[s].second.size() ? series[s].second[g] : NAN;
      if (!std::isfinite(v)) continue;
      const int h = static_cast<int>(std::lround(plot_h * v / hi));
      cv::rectangle(img, cv::Rect(x0 + static_cast<int>(s) * 22, base - h, 18, h), kColours[s % 4], cv::FILLED);
    }
    std::string l = labels[g].size() > 10 ? labels[g].substr(0, 10) : labels[g];
    cv::putText(img, l, {x0, base + 16}, font, 0.35, {40, 40, 40}, 1, cv::LINE_AA);
  }
  int x = left;
  for (size_t s = 0; s < series.size(); ++s) {  // legend
    const int y = height - 22;
    cv::rectangle(img, cv::Rect(x, y - 10, 12, 12), kColours[s % 4], cv::FILLED);
    cv::putText(img, series[s].first, {x + 16, y}, font, 0.4, {20, 20, 20}, 1, cv::LINE_AA);
    x += 16 + cv::getTextSize(series[s].first, font, 0.4, 1, nullptr).width + 18;
  }
  return img;
}

std::string eval_report_html(const nlohmann::json& results, const std::vector<ClipStrip>& strips) {
  nlohmann::json r = results;  // a copy: reads of missing keys give null
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>SyncTalkFace evaluation</title>\n"
      "<style>body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}"
      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}"
      "th{background:#eee}td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:0.5em 0}"
      ".note{color:#555;font-size:0.9em}</style></head><body>\n";
  h += "<h1>SyncTalkFace evaluation</h1>\n<p>Model: <code>" + escape(r["model"].get<std::string>()) + "</code>";
  if (!r["baseline"].get<std::string>().empty())
    h += "<br>Baseline: <code>" + escape(r["baseline"].get<std::string>()) + "</code>";
  char buf[256];
  const bool sync_check = r.contains("sync");
  std::snprintf(buf, sizeof buf, "<br>Mode: %s; driving audio%s shifted by %.2f s.</p>\n",
                r["mode"].get<std::string>().c_str(), sync_check ? " of the _shifted systems" : "",
                r["audio_shift"].get<double>());
  h += buf;

  std::vector<std::string> names;  // in reading order, not the JSON's alphabetical one
  for (const char* n : {"real", "reference_copy", "model", "model_shifted", "baseline", "baseline_shifted"})
    if (r["systems"].contains(n)) names.push_back(n);
  // Mean table, and (as the command's) the median one.
  for (const char* stat : {"mean", "median"}) {
    if (std::string(stat) == "median" && !shows_medians(r)) break;
    h += std::string("<h2>") + (std::string(stat) == "mean" ? "Means" : "Medians") +
         " over clips</h2>\n<table><tr><th>system</th>";
    for (const Metric& m : kMetrics)
      if (std::string(m.key) != "offset") h += std::string("<th>") + m.title + "</th>";
    h += "</tr>\n";
    for (const auto& n : names) {
      h += "<tr><td>" + escape(n) + "</td>";
      for (const Metric& m : kMetrics)
        if (std::string(m.key) != "offset") h += "<td>" + cell(r["systems"][n][stat][m.key], m.format) + "</td>";
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  h += "<p class=\"note\">real = the real clip scored as if generated (the ceiling); reference copy = "
       "the first frame's mouth pasted on every frame (no motion). LSE-D*/LSE-C* use this project's own SyncNet "
       "expert, not syncnet_python's: compare them only with each other. Definitions: docs/metrics.md.</p>\n";

  for (const auto& [name, c] : r["sync"].items()) {  // own speech against shifted, paired by clip
    h += "<h2>Sync check: " + escape(name) + "</h2>\n<table><tr><th>clip</th><th>LMD/IOD own audio</th>"
         "<th>shifted</th><th>own lower by</th></tr>\n";
    for (const auto& p : c["clips"]) {
      std::snprintf(buf, sizeof buf, "<td>%.4f</td><td>%.4f</td><td>%.1f%%</td></tr>\n", p["own"].get<double>(),
                    p["shifted"].get<double>(), 100 * p["lower_by"].get<double>());
      h += "<tr><td>" + escape(base_name(p["clip"].get<std::string>())) + "</td>" + buf;
    }
    h += "</table>\n";
    if (c.contains("lower_by")) {
      std::snprintf(buf, sizeof buf,
                    "<p>Means: %.4f own, %.4f shifted: own lower by %.1f%% (95%% bootstrap interval over clips "
                    "%.1f%% .. %.1f%%); own closer on %d of %zu clips.</p>\n",
                    c["own"].get<double>(), c["shifted"].get<double>(), 100 * c["lower_by"].get<double>(),
                    100 * c["interval95"][0].get<double>(), 100 * c["interval95"][1].get<double>(),
                    c["closer"].get<int>(), c["clips"].size());
      h += buf;
    }
  }

  for (const auto& [name, c] : r["speaker_r"].items()) {  // dub mode, speech from a video
    std::snprintf(buf, sizeof buf,
                  "<p>SpeakerR of %s: %.3f (95%% bootstrap interval over %d clips %.3f .. %.3f); above the clips' "
                  "own mouths (chance, %.3f) by %.3f (%.3f .. %.3f).</p>\n",
                  escape(name).c_str(), c["speaker_r"].get<double>(), c["clips"].get<int>(),
                  c["interval95"][0].get<double>(), c["interval95"][1].get<double>(), c["chance"].get<double>(),
                  c["above_chance"].get<double>(), c["above_chance_interval95"][0].get<double>(),
                  c["above_chance_interval95"][1].get<double>());
    h += buf;
  }

  // Per-clip plots.
  std::vector<std::string> clips;
  for (const auto& c : r["systems"]["real"]["clips"]) clips.push_back(base_name(c["clip"].get<std::string>()));
  for (const char* key : {"lmd_norm", "lse_c"}) {
    std::vector<std::pair<std::string, std::vector<double>>> series;
    bool any = false;
    for (const auto& n : names) {
      std::vector<double> v;
      for (const auto& c : r["systems"][n]["clips"]) {
        v.push_back(c.contains(key) && c[key].is_number() ? c[key].get<double>() : NAN);
        any |= std::isfinite(v.back());
      }
      series.push_back({n, v});
    }
    if (!any) continue;
    const std::string title = std::string(key) == "lmd_norm" ? "Mouth landmark distance / IOD per clip (lower is better)"
                                                             : "LSE-C* per clip (higher is better)";
    h += embedded_png(bar_chart(title, clips, series), title) + "\n";
  }

  // Per-clip table.
  h += "<h2>Per clip</h2>\n<table><tr><th>clip</th><th>system</th><th>frames</th>";
  for (const Metric& m : kMetrics) h += std::string("<th>") + m.title + "</th>";
  h += "</tr>\n";
  for (size_t c = 0; c < clips.size(); ++c)
    for (const auto& n : names) {
      nlohmann::json row = r["systems"][n]["clips"][c];
      h += "<tr><td>" + escape(clips[c]) + "</td><td>" + escape(n) + "</td><td>" + cell(row["frames"], "%.0f") + "</td>";
      for (const Metric& m : kMetrics) h += "<td>" + cell(row[m.key], m.format) + "</td>";
      h += "</tr>\n";
    }
  h += "</table>\n";

  if (!strips.empty()) {
    h += "<h2>Frames</h2>\n<p class=\"note\">Face crops at the model's size, six frames spread over each clip.</p>\n";
    for (const auto& s : strips)
      h += "<h3>" + escape(base_name(s.clip)) + "</h3>\n" + embedded_png(s.image, "frames of " + s.clip) + "\n";
  }
  if (!r["skipped"].empty()) {
    h += "<h2>Skipped clips</h2>\n<ul>\n";
    for (const auto& s : r["skipped"])
      h += "<li>" + escape(s["clip"].get<std::string>()) + ": " + escape(s["reason"].get<std::string>()) + "</li>\n";
    h += "</ul>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace stf
