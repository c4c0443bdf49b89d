// `eval --report OUT.html`: one self-contained HTML page (no external files,
// PNGs embedded as data URIs) with the metrics table, per-clip plots and a
// strip of real | reference copy | generated face crops per clip.
#pragma once
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "eval/evaluate.h"

namespace stf {

// The page as text; `results` is what evaluate() returns.
std::string eval_report_html(const nlohmann::json& results, const std::vector<ClipStrip>& strips);

// An <img> tag holding `image` as an embedded PNG.
std::string embedded_png(const cv::Mat& image, const std::string& alt);

// A grouped bar chart: one group per label, one bar per series.
cv::Mat bar_chart(const std::string& title, const std::vector<std::string>& labels,
                  const std::vector<std::pair<std::string, std::vector<double>>>& series);

}  // namespace stf
