#include <cmath>
#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "media/ffmpeg_util.h"
#include "stf/error.h"
#include "stf/media.h"
extern "C" {
#include <libswscale/swscale.h>
}

namespace stf {

struct VideoReader::Impl {
  std::string path;
  bool image = false;
  cv::Mat still;

  AVFormatContext* fmt = nullptr;
  AVCodecContext* dec = nullptr;
  SwsContext* sws = nullptr;
  AVPacket* pkt = nullptr;
  AVFrame* frm = nullptr;
  int stream = -1;
  double time_base = 0;
  double fps = 0;
  int64_t count = 0;
  double duration = 0;
  int rotation = 0;
  int width = 0, height = 0;  // after rotation
  AVRational sar{0, 1};       // the stream's sample aspect ratio (0/1: not said)
  VideoColor color;
  SwsContext* sws_full_range = nullptr;  // sws, once told its input is full range

  // Constant-rate resampling state: output frame n shows the decoded frame
  // nearest to n / fps (relative to the first frame's timestamp).
  bool flushing = false, decoder_done = false;
  bool have_pending = false;
  cv::Mat current, pending;
  double current_t = 0, pending_t = 0;
  bool have_ahead = false;  // the frame after pending, decoded at opening to tell a photo
  cv::Mat ahead;
  double ahead_t = 0;
  double first_t = NAN, last_raw_t = NAN;
  int64_t n = 0;
  int64_t corrupt = 0;

  ~Impl() {
    sws_freeContext(sws);
    av_frame_free(&frm);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    if (fmt) avformat_close_input(&fmt);
  }

  void open_video() {
    fmt = open_input(path);
    stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (stream < 0) throw Error(path + ": has no video stream");
    AVStream* st = fmt->streams[stream];
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
      throw Error(path + ": no decoder for video codec " +
                  avcodec_get_name(st->codecpar->codec_id));
    dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, st->codecpar);
    dec->thread_count = 0;
    int err = avcodec_open2(dec, codec, nullptr);
    if (err < 0) throw Error(path + ": cannot open video decoder (" + av_error_text(err) + ")");
    time_base = av_q2d(st->time_base);
    fps = stream_fps(st);
    if (fmt->duration != AV_NOPTS_VALUE) duration = fmt->duration / double(AV_TIME_BASE);
    if (st->duration != AV_NOPTS_VALUE) duration = st->duration * time_base;
    count = static_cast<int64_t>(std::llround(duration * fps));
    if (count <= 0) count = st->nb_frames;
    rotation = stream_rotation(st);
    const AVCodecParameters* par = st->codecpar;
    color.space = par->color_space;
    color.primaries = par->color_primaries;
    color.transfer = par->color_trc;
    sar = av_guess_sample_aspect_ratio(fmt, st, nullptr);
    width = square_pixel_width(sar, dec->width);
    height = dec->height;
    if (rotation == 90 || rotation == 270) std::swap(width, height);
    pkt = av_packet_alloc();
    frm = av_frame_alloc();
  }

  cv::Mat to_bgr(const AVFrame* f) {
    // Anamorphic pixels are resampled to square ones (bicubic: the output is
    // encoded at this size).
    const int w = square_pixel_width(sar, f->width);
    sws = sws_getCachedContext(sws, f->width, f->height, static_cast<AVPixelFormat>(f->format), w, f->height,
                               AV_PIX_FMT_BGR24, w == f->width ? SWS_BILINEAR : SWS_BICUBIC, nullptr, nullptr,
                               nullptr);
    if (!sws) throw Error(path + ": unsupported pixel format");
    if (f->color_range == AVCOL_RANGE_JPEG && sws != sws_full_range) {
      // swscale reads YUV as 16-235 unless told (the 8-bit yuvj formats
      // aside): a 10-bit full-range frame would lose its shadows and highlights.
      const int* bt601 = sws_getCoefficients(SWS_CS_DEFAULT);
      sws_setColorspaceDetails(sws, bt601, 1, bt601, 1, 0, 1 << 16, 1 << 16);
      sws_full_range = sws;
    }
    // swscale's SIMD writers may run past the end of a row: give the last
    // row a spare row of slack by converting into a taller buffer.
    cv::Mat padded(f->height + 1, w, CV_8UC3);
    cv::Mat out = padded.rowRange(0, f->height);
    uint8_t* dst[1] = {out.data};
    int stride[1] = {static_cast<int>(out.step[0])};
    sws_scale(sws, f->data, f->linesize, 0, f->height, dst, stride);
    if (rotation == 90) cv::rotate(out, out, cv::ROTATE_90_CLOCKWISE);
    if (rotation == 180) cv::rotate(out, out, cv::ROTATE_180);
    if (rotation == 270) cv::rotate(out, out, cv::ROTATE_90_COUNTERCLOCKWISE);
    return out;
  }

  // Decodes the next frame in stream order; false when the stream is over.
  bool decode_next(cv::Mat& out, double& t) {
    if (have_ahead) {
      out = ahead;
      t = ahead_t;
      have_ahead = false;
      return true;
    }
    while (!decoder_done) {
      int err = avcodec_receive_frame(dec, frm);
      if (err == 0) {
        int64_t ts = frm->best_effort_timestamp;
        double raw = ts == AV_NOPTS_VALUE ? (std::isnan(last_raw_t) ? 0 : last_raw_t + 1 / fps)
                                          : ts * time_base;
        last_raw_t = raw;
        if (std::isnan(first_t)) first_t = raw;
        t = raw - first_t;
        out = to_bgr(frm);
        av_frame_unref(frm);
        return true;
      }
      if (err == AVERROR_EOF) {
        decoder_done = true;
        break;
      }
      if (err != AVERROR(EAGAIN)) {
        ++corrupt;  // a frame the decoder rejected: skip it
        continue;
      }
      if (flushing) {
        decoder_done = true;
        break;
      }
      err = av_read_frame(fmt, pkt);
      if (err == AVERROR_EOF) {
        flushing = true;
        avcodec_send_packet(dec, nullptr);
        continue;
      }
      if (err < 0)
        throw Error(path + ": read error after " + std::to_string(n) + " frames (" +
                    av_error_text(err) + "); the file may be truncated or corrupt");
      if (pkt->stream_index == stream) {
        if (avcodec_send_packet(dec, pkt) < 0) ++corrupt;
      }
      av_packet_unref(pkt);
    }
    return false;
  }
};

VideoReader::VideoReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  if (is_image_path(path)) {
    check_input_file(path);
    impl_->still = cv::imread(path, cv::IMREAD_COLOR);
    if (impl_->still.empty()) throw Error(path + ": not a readable image");
    impl_->image = true;
    impl_->count = 1;
    impl_->width = impl_->still.cols;
    impl_->height = impl_->still.rows;
    return;
  }
  Impl& s = *impl_;
  s.open_video();
  s.have_pending = s.decode_next(s.pending, s.pending_t);
  if (!s.have_pending) throw Error(path + ": no decodable video frames; the file may be truncated or corrupt");
  // A file holding one picture (a GIF, a JPEG named otherwise, a video of
  // one frame) is a photo.
  s.have_ahead = s.decode_next(s.ahead, s.ahead_t);
  if (!s.have_ahead) {
    s.image = true;
    s.still = s.pending;
    s.count = 1;
  }
}

VideoReader::~VideoReader() = default;

bool VideoReader::read(cv::Mat& frame) {
  Impl& s = *impl_;
  if (s.image) {
    if (s.n > 0) return false;
    frame = s.still.clone();
    ++s.n;
    return true;
  }
  const double t = s.n / s.fps;
  const double half = 0.5 / s.fps;
  while (s.have_pending && s.pending_t <= t + half) {
    s.current = s.pending;
    s.current_t = s.pending_t;
    s.have_pending = s.decode_next(s.pending, s.pending_t);
  }
  if (s.current.empty()) {  // first timestamp later than expected: show it
    s.current = s.pending;
    s.current_t = s.pending_t;
    s.have_pending = s.decode_next(s.pending, s.pending_t);
  }
  if (!s.have_pending && t > s.current_t + half) return false;
  frame = s.current.clone();
  ++s.n;
  return true;
}

double VideoReader::fps() const { return impl_->image ? 0 : impl_->fps; }
int64_t VideoReader::frame_count() const { return impl_->count; }
double VideoReader::duration() const { return impl_->duration; }
int VideoReader::width() const { return impl_->width; }
int VideoReader::height() const { return impl_->height; }
int VideoReader::rotation() const { return impl_->rotation; }
VideoColor VideoReader::color() const { return impl_->color; }
int64_t VideoReader::corrupt_frames() const { return impl_->corrupt; }
bool VideoReader::is_image() const { return impl_->image; }

}  // namespace stf
