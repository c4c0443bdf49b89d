// synctalkface faces VIDEO [--json FILE] [--out debug.mp4]: runs the face
// pipeline and shows what it found.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "cli/common.h"
#include "cli/face_options.h"
#include "core/progress.h"
#include "face/face_json.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"
#include "stf/threads.h"

namespace stf::cli {

namespace {

void draw_debug(cv::Mat& img, const FaceObservation& face, const CropOptions& crop) {
  if (!face.found) {
    cv::putText(img, "no face", {10, 30}, cv::FONT_HERSHEY_SIMPLEX, 0.8, {0, 0, 255}, 2);
    return;
  }
  // Blend mask tinted green.
  cv::Rect all(0, 0, img.cols, img.rows);
  cv::Mat mask = lower_face_mask(face.landmarks, all);
  cv::Mat tint(img.size(), CV_8UC3, cv::Scalar(0, 255, 0));
  cv::Mat m3;
  cv::cvtColor(mask * 0.4f, m3, cv::COLOR_GRAY2BGR);
  cv::Mat f;
  img.convertTo(f, CV_32FC3);
  cv::Mat t;
  tint.convertTo(t, CV_32FC3);
  f = f.mul(cv::Scalar(1, 1, 1) - m3) + t.mul(m3);
  f.convertTo(img, CV_8UC3);
  // Crop square and landmarks.
  cv::Matx23f inv;
  cv::invertAffineTransform(crop_transform(face.landmarks, crop), inv);
  std::vector<cv::Point> corners;
  for (cv::Point2f c : {cv::Point2f(0, 0), cv::Point2f(crop.size, 0), cv::Point2f(crop.size, crop.size),
                        cv::Point2f(0, crop.size)})
    corners.emplace_back(inv * cv::Vec3f(c.x, c.y, 1));
  cv::polylines(img, corners, true, {255, 160, 0}, 2);
  cv::rectangle(img, face.box, {0, 200, 255}, 1);
  for (const auto& p : face.landmarks) cv::circle(img, p, 2, {0, 0, 255}, cv::FILLED);
}

}  // namespace

void add_faces_command(CLI::App& root) {
  struct Opts {
    std::string input, json, out, crop;
    int threads = 0;
    FaceCliOptions face;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand(
      "faces", "Detect and track the face; write per-frame boxes and landmarks (JSON) and a debug video");
  cmd->add_option("input", o->input, "Video or image")->required();
  cmd->add_option("--json", o->json, "Write one entry per frame: {frame, box [x0,y0,x1,y1], landmarks} or null");
  cmd->add_option("--out", o->out, "Debug video with crop box, landmarks and blend mask drawn");
  add_crop_option(cmd, o->crop, "For the debug video's crop box: steady to see the crops of a model trained on `preprocess --crop steady` data");
  add_threads_option(cmd, o->threads);
  add_face_options(cmd, o->face);
  add_strict_option(cmd, o->face);
  cmd->callback([o] {
    set_threads(o->threads);
    for (const std::string& out : {o->out, o->json})
      if (!out.empty()) check_output_path(out, {o->input});
    VideoReader reader(o->input);
    TrackerOptions topt = tracker_options(o->face);
    if (reader.is_image()) topt.static_image = true;
    FaceTracker tracker(topt);
    CropOptions crop = crop_options(o->face, 96);
    crop.placement = parse_crop_placement(o->crop);
    std::unique_ptr<VideoWriter> writer;
    if (!o->out.empty()) {
      VideoWriterOptions wopt;
      wopt.fps = reader.is_image() ? 25 : reader.fps();
      writer = std::make_unique<VideoWriter>(o->out, reader.width(), reader.height(), wopt);
    }
    nlohmann::json frames = nlohmann::json::array();
    Progress progress("faces", reader.frame_count(), "frames");
    int64_t missing_first = -1;
    auto emit = [&](const TrackedFrame& tf) {
      if (!tf.face.found) {
        if (o->face.strict)
          throw Error(o->input + ": no face in frame " + std::to_string(tf.index) + " (--strict)");
        if (missing_first < 0) missing_first = tf.index;
      }
      frames.push_back(face_to_json(tf.index, tf.face));
      if (writer) {
        cv::Mat img = tf.frame.clone();
        draw_debug(img, tf.face, crop);
        writer->write(img);
      }
      progress.update(tf.index + 1);
    };
    track_video(reader, tracker, emit);
    const TrackStats& st = tracker.stats();
    if (reader.corrupt_frames() > 0)
      std::fprintf(stderr, "warning: %s: %lld corrupt frames were skipped\n", o->input.c_str(),
                   static_cast<long long>(reader.corrupt_frames()));
    if (st.with_face == 0)
      throw Error(o->input + ": no face found in any of " + std::to_string(st.frames) +
                  " frames (a face turned to profile or under ~70 px across is not taken); try --box");
    progress.finish();
    if (!o->json.empty()) write_file_atomic(o->json, frames.dump() + "\n");
    if (writer) writer->finish();
    std::printf("%s: %s, %lld with a face, %s, %.1f frames/s\n", o->input.c_str(), counted(st.frames, "frame").c_str(),
                static_cast<long long>(st.with_face), counted(st.detections, "detector run").c_str(),
                st.frames / std::max(1e-9, progress.elapsed()));
    if (st.with_face < st.frames)
      std::printf("%s without a face (first: %lld): passed through unchanged\n",
                  counted(st.frames - st.with_face, "frame").c_str(), static_cast<long long>(missing_first));
  });
}

}  // namespace stf::cli
