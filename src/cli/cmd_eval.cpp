// synctalkface eval --data CLIPS... [--model FILE] [--baseline FILE]
// [--json OUT] [--report OUT.html] [--mode reconstruct|dub|sync] [--still] [--audio-shift S]:
// scores re-generated clips against the real ones.
#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "cli/face_options.h"
#include "eval/evaluate.h"
#include "eval/report.h"
#include "stf/files.h"
#include "stf/media.h"
#include "stf/threads.h"
#include "train/preprocess.h"

namespace stf::cli {

namespace {

std::string cell(const nlohmann::json& v, const char* fmt) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v.get<double>());
  return buf;
}

}  // namespace

void add_eval_command(CLI::App& root) {
  struct Opts {
    EvalOptions eval;
    std::vector<std::string> data;
    std::string json, report;
    FaceCliOptions face;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand(
      "eval", "Re-generate clips and score them: PSNR, SSIM (face crop), mouth landmark distance, LSE-D*/LSE-C*");
  cmd->add_option("--data", o->data, "Clips with their own speech: video files, folders or .txt lists")->required();
  cmd->add_option("--model", o->eval.model, "Model file or train checkpoint (default: the bundled model)");
  cmd->add_option("--baseline", o->eval.baseline, "A second model scored in the same table");
  cmd->add_option("--sync", o->eval.sync, "SyncNet for LSE-D*/LSE-C* (default: the bundled expert)");
  cmd->add_option("--mode", o->eval.mode,
                  "reconstruct: each clip driven by its own audio; dub: by other speech (sync metrics, and the "
                  "correlation with the speaker's mouth where the speech is a video); sync: reconstruct each clip "
                  "with its own audio and with it shifted by --audio-shift, and compare the mouth landmark "
                  "distances (per clip, and over all with a 95% bootstrap interval)")
      ->default_val("reconstruct")->check(CLI::IsMember({"reconstruct", "dub", "sync"}));
  cmd->add_flag("--still", o->eval.still,
                "Score the photo path: the generators get each clip's frame with the most closed mouth as a "
                "photo (any mode; read MouthR, Range, SpeakerR and LSE: PSNR and LMD also count the head motion "
                "a photo lacks)");
  cmd->add_option("--audio", o->eval.dub_audio, "dub: this speech for every clip (default: the next clip's audio)");
  cmd->add_option("--audio-shift", o->eval.audio_shift,
                  "Delay the driving audio by this many seconds (a sync check: scores should get worse); "
                  "default 0, and 1 in sync mode, where only the second run is shifted")
      ->check(finite());
  cmd->add_option("--ref-choice", o->eval.ref_choice, "As generate's: seconds of history to pick the reference from")
      ->default_val(2.0)->check(range(0.0, 10.0));
  cmd->add_option("--guidance-scale", o->eval.guidance_scale, "As generate's: how far the mouth moves with the speech")
      ->default_val(3.0)->check(range(0.0, 10.0));
  cmd->add_option("--ref-lag", o->eval.ref_lag,
                  "As generate's: seconds between a frame and the face used as its reference (0 with --ref-choice 0 = the frame itself)")
      ->default_val(1.0)->check(range(0.0, 10.0));
  cmd->add_option("--score-smooth", o->eval.score_smooth,
                  "Smoothing radius in frames of the landmarks the scores read, on the real clip and the outputs alike "
                  "(default: --smooth's); 0 sees a lip closure of one frame, which smoothing mostly hides. The "
                  "generators keep --smooth")
      ->check(range(0, 50));
  cmd->add_option("--json", o->json, "Write per-clip and mean scores as JSON");
  cmd->add_option("--report", o->report,
                  "Write a self-contained HTML page: metrics table, per-clip plots, real | generated frame strips");
  cmd->add_option("--batch", o->eval.batch, "Face crops per model call")->default_val(16)->check(range(1, 1024));
  cmd->add_option("--precision", o->eval.precision,
                  "The generators' number format, as generate's (default fp32: scores that do not depend on the CPU)")
      ->default_val("fp32")->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  add_threads_option(cmd, o->threads);
  add_face_options(cmd, o->face);
  add_render_options(cmd, o->face);
  cmd->callback([o, cmd] {
    set_threads(o->threads);
    if (o->eval.mode == "sync" && cmd->count("--audio-shift") == 0) o->eval.audio_shift = 1;
    warn_if_slow_precision(o->eval.precision);
    EvalOptions e = o->eval;
    for (const auto& [id, path] : collect_clips(o->data)) e.clips.push_back(path);
    e.tracker = tracker_options(o->face);
    e.crop = crop_options(o->face, 0);
    e.blend = blend_options(o->face);
    std::vector<ClipStrip> strips;
    nlohmann::json r = evaluate(e, o->report.empty() ? nullptr : &strips);
    if (!o->json.empty()) write_file_atomic(o->json, r.dump(1) + "\n");
    if (!o->report.empty()) write_file_atomic(o->report, eval_report_html(r, strips));
    const bool truth = r["systems"]["real"]["mean"].contains("lmd_truth");
    const bool driver = r["systems"]["real"]["mean"].contains("driver_corr");
    auto row = [&](const std::string& name, nlohmann::json m) {  // a copy: missing metrics (dub mode) read as null
      std::printf("%-16s %8s %7s %8s %9s %7s %7s %7s %7s %7s %7s %7s%s%s\n", name.c_str(), cell(m["psnr"], "%.2f").c_str(),
                  cell(m["ssim"], "%.4f").c_str(), cell(m["lmd"], "%.3f").c_str(), cell(m["lmd_norm"], "%.4f").c_str(),
                  cell(m["mouth_corr"], "%.3f").c_str(), cell(m["mouth_range"], "%.3f").c_str(),
                  cell(m["mouth_sharpness"], "%.3f").c_str(),
                  cell(m["mouth_motion"], "%.3f").c_str(),
                  cell(m["mouth_flicker"], "%.3f").c_str(),
                  cell(m["lse_d"], "%.3f").c_str(),
                  cell(m["lse_c"], "%.3f").c_str(),
                  truth ? ("  " + cell(m["lmd_truth"], "%13.4f")).c_str() : "",
                  driver ? ("  " + cell(m["driver_corr"], "%8.3f")).c_str() : "");
    };
    std::printf("%-16s %8s %7s %8s %9s %7s %7s %7s %7s %7s %7s %7s%s%s\n", "system (mean)", "PSNR", "SSIM", "LMD(px)", "LMD/IOD", "MouthR",
                "Range", "Sharp", "Motion", "Flicker", "LSE-D*", "LSE-C*", truth ? "  LMD-truth/IOD" : "", driver ? "  SpeakerR" : "");
    for (const auto& [name, s] : r["systems"].items()) row(name, s["mean"]);
    if (shows_medians(r)) {  // one clip with a failed tracking can drag a mean
      std::printf("(median)\n");
      for (const auto& [name, s] : r["systems"].items()) row(name, s["median"]);
    }
    for (const std::string name : {"model", "baseline"}) {
      if (!r.contains("speaker_r") || !r["speaker_r"].contains(name)) continue;
      const nlohmann::json& c = r["speaker_r"][name];
      std::printf("\nSpeakerR (%s): %.3f (95%% interval over %d clips %.3f .. %.3f); the clips' own mouths (chance) "
                  "%.3f: above chance by %.3f (%.3f .. %.3f)\n",
                  name.c_str(), c["speaker_r"].get<double>(), c["clips"].get<int>(), c["interval95"][0].get<double>(),
                  c["interval95"][1].get<double>(), c["chance"].get<double>(), c["above_chance"].get<double>(),
                  c["above_chance_interval95"][0].get<double>(), c["above_chance_interval95"][1].get<double>());
    }
    for (const std::string name : {"model", "baseline"}) {
      if (!r.contains("sync") || !r["sync"].contains(name)) continue;
      const nlohmann::json& c = r["sync"][name];
      const double shift = r["audio_shift"].get<double>();
      const std::string when = shift > 0 ? "late" : "early";
      std::printf("\nsync check (%s): mouth landmark distance / IOD with each clip's own audio and with it %.2f s %s\n",
                  name.c_str(), std::abs(shift), when.c_str());
      std::printf("%-24s %8s %8s %13s\n", "clip", "own", when.c_str(), "own lower by");
      for (const auto& p : c["clips"])
        std::printf("%-24s %8.4f %8.4f %12.1f%%\n",
                    std::filesystem::path(p["clip"].get<std::string>()).filename().string().c_str(),
                    p["own"].get<double>(), p["shifted"].get<double>(), 100 * p["lower_by"].get<double>());
      if (!c.contains("lower_by")) continue;
      const size_t n = c["clips"].size();
      const std::string all = "mean (" + std::to_string(n) + (n == 1 ? " clip)" : " clips)");
      std::printf("%-24s %8.4f %8.4f %12.1f%%  (95%% interval over clips %.1f%% .. %.1f%%; own closer on %d of %zu)\n",
                  all.c_str(), c["own"].get<double>(), c["shifted"].get<double>(), 100 * c["lower_by"].get<double>(),
                  100 * c["interval95"][0].get<double>(), 100 * c["interval95"][1].get<double>(),
                  c["closer"].get<int>(), n);
    }
    for (const auto& s : r["skipped"])
      std::printf("skipped %s: %s\n", s["clip"].get<std::string>().c_str(), s["reason"].get<std::string>().c_str());
  });
}

}  // namespace stf::cli
