#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "media/ffmpeg_util.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"
extern "C" {
#include <libavutil/display.h>
}

namespace stf {

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

void check_input_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) throw Error("no input file given");
  if (!fs::exists(path, ec)) throw Error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, expected a media file");
  if (fs::file_size(path, ec) == 0) throw Error(path + ": file is empty");
}

AVFormatContext* open_input(const std::string& path) {
  check_input_file(path);
  av_log_set_level(AV_LOG_QUIET);  // failures are reported through stf::Error
  AVFormatContext* fmt = nullptr;
  int err = avformat_open_input(&fmt, path.c_str(), nullptr, nullptr);
  // A damaged header can make a demuxer ask for a huge buffer: FFmpeg then
  // says "Cannot allocate memory", which would send the user the wrong way.
  if (err == AVERROR(ENOMEM)) throw Error(path + ": not a readable media file (damaged header)");
  if (err < 0) throw Error(path + ": not a readable media file (" + av_error_text(err) + ")");
  err = avformat_find_stream_info(fmt, nullptr);
  if (err < 0) {
    avformat_close_input(&fmt);
    throw Error(path + ": cannot read stream info (" + av_error_text(err) +
                "); the file may be truncated or corrupt");
  }
  return fmt;
}

bool is_image_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  for (const char* e : {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
    if (ext == e) return true;
  return false;
}

int stream_rotation(const AVStream* st) {
  const uint8_t* m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (!m) return 0;
  // av_display_rotation_get gives the counter-clockwise angle; we report the
  // clockwise rotation needed to display the frame upright.
  double ccw = av_display_rotation_get(reinterpret_cast<const int32_t*>(m));
  int cw = static_cast<int>(std::lround(-ccw)) % 360;
  if (cw < 0) cw += 360;
  return (cw + 45) / 90 * 90 % 360;
}

int square_pixel_width(AVRational sar, int width) {
  if (sar.num <= 0 || sar.den <= 0 || sar.num == sar.den) return width;
  return std::max(2, static_cast<int>(std::lround(width * av_q2d(sar))));
}

double stream_fps(const AVStream* st) {
  double avg = st->avg_frame_rate.num && st->avg_frame_rate.den ? av_q2d(st->avg_frame_rate) : 0;
  double grid = st->r_frame_rate.num && st->r_frame_rate.den ? av_q2d(st->r_frame_rate) : 0;
  if (grid > 0 && grid <= 120 && (avg <= 0 || grid > avg * 1.01)) return grid;
  if (avg > 0 && avg <= 1000) return avg;
  return 25.0;
}

MediaInfo probe_media(const std::string& path) {
  MediaInfo info;
  info.path = path;
  if (is_image_path(path)) {
    check_input_file(path);
    cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
    if (img.empty()) throw Error(path + ": not a readable image");
    info.container = "image";
    info.is_image = true;
    StreamInfo s;
    s.type = "video";
    s.codec = "image";
    s.width = img.cols;
    s.height = img.rows;
    s.frames = 1;
    info.streams.push_back(s);
    return info;
  }
  AVFormatContext* fmt = open_input(path);
  info.container = fmt->iformat->name;
  if (fmt->duration != AV_NOPTS_VALUE) info.duration = fmt->duration / double(AV_TIME_BASE);
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    const AVCodecParameters* par = st->codecpar;
    StreamInfo s;
    s.index = static_cast<int>(i);
    const char* type = av_get_media_type_string(par->codec_type);
    s.type = type ? type : "unknown";
    s.codec = avcodec_get_name(par->codec_id);
    if (st->duration != AV_NOPTS_VALUE) s.duration = st->duration * av_q2d(st->time_base);
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
      s.width = square_pixel_width(av_guess_sample_aspect_ratio(fmt, fmt->streams[i], nullptr), par->width);
      s.height = par->height;
      s.fps = stream_fps(st);
      // Frames as VideoReader yields them (constant rate), else the stored count.
      s.frames = s.duration > 0 ? static_cast<int64_t>(std::llround(s.duration * s.fps)) : st->nb_frames;
      s.rotation = stream_rotation(st);
      if (s.rotation == 90 || s.rotation == 270) std::swap(s.width, s.height);
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
      s.sample_rate = par->sample_rate;
      s.channels = par->ch_layout.nb_channels;
    }
    info.streams.push_back(s);
  }
  avformat_close_input(&fmt);
  if (info.streams.empty()) throw Error(path + ": contains no audio or video streams");
  // One picture under any name (a GIF, a .jfif, a one-frame video) is read
  // as a photo; frames that do not decode leave it a video here.
  const bool video = std::any_of(info.streams.begin(), info.streams.end(),
                                 [](const StreamInfo& s) { return s.type == "video"; });
  if (video) {
    try {
      info.is_image = VideoReader(path).is_image();
    } catch (const Error&) {
    }
  }
  return info;
}

}  // namespace stf
