#include <algorithm>
#include <cstdint>
#include <csignal>
#include <filesystem>
#include <unistd.h>

#include "media/audio_decoder.h"
#include "media/ffmpeg_util.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"
extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/cpu.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace stf {

namespace fs = std::filesystem;

struct VideoWriter::Impl {
  std::string path, tmp;
  VideoWriterOptions opt;
  int width = 0, height = 0;     // frames given
  int enc_w = 0, enc_h = 0;      // encoded (even) size
  AVFormatContext* oc = nullptr;
  AVCodecContext* venc = nullptr;
  AVCodecContext* aenc = nullptr;
  AVStream* vst = nullptr;
  AVStream* ast = nullptr;
  SwsContext* sws = nullptr;
  AVFrame* vframe = nullptr;
  AVFrame* aframe = nullptr;
  AVPacket* pkt = nullptr;
  cv::Mat staging;
  // The soundtrack: mono samples in memory (set_audio) or a file decoded as
  // it is written (set_audio_from); audio_end cuts it (SIZE_MAX: the whole).
  std::vector<float> audio;
  std::unique_ptr<AudioDecoder> audio_file;
  int audio_rate = 0, audio_channels = 0;
  size_t audio_pos = 0, audio_end = SIZE_MAX;
  bool audio_done = false;
  std::vector<float> audio_chunk;  // one encoder frame, interleaved
  int64_t frames = 0;
  bool header_written = false, finished = false, io_open = false;

  ~Impl() {
    sws_freeContext(sws);
    av_frame_free(&vframe);
    av_frame_free(&aframe);
    av_packet_free(&pkt);
    avcodec_free_context(&venc);
    avcodec_free_context(&aenc);
    if (oc) {
      if (io_open) avio_closep(&oc->pb);
      avformat_free_context(oc);
    }
    if (!finished && !tmp.empty()) std::remove(tmp.c_str());
  }

  void fail(const std::string& what, int err) {
    throw Error(path + ": " + what + " (" + av_error_text(err) + ")");
  }

  void open_video_encoder() {
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) throw Error(path + ": this FFmpeg has neither libx264 nor an MPEG-4 encoder");
    const std::string codec_name = codec->name;
    vst = avformat_new_stream(oc, nullptr);
    venc = avcodec_alloc_context3(codec);
    AVRational rate = av_d2q(opt.fps, 100000);
    venc->width = enc_w;
    venc->height = enc_h;
    venc->pix_fmt = AV_PIX_FMT_YUV420P;
    venc->time_base = av_inv_q(rate);
    venc->framerate = rate;
    venc->thread_count = 0;
    venc->colorspace = static_cast<AVColorSpace>(opt.color.space);
    venc->color_primaries = static_cast<AVColorPrimaries>(opt.color.primaries);
    venc->color_trc = static_cast<AVColorTransferCharacteristic>(opt.color.transfer);
    venc->color_range = AVCOL_RANGE_MPEG;  // what swscale writes
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (codec_name == "libx264") {
      av_opt_set(venc->priv_data, "preset", opt.preset.c_str(), 0);
      av_opt_set(venc->priv_data, "crf", std::to_string(opt.crf).c_str(), 0);
      // libx264's AVX-512 code (Debian 12's x264 164) reads memory it never
      // wrote: the same frames gave different files from run to run. Up to
      // AVX2 it is deterministic, at the same speed here.
      if (av_get_cpu_flags() & AV_CPU_FLAG_AVX512) av_opt_set(venc->priv_data, "x264-params", "asm=avx2", 0);
    } else {
      venc->bit_rate = static_cast<int64_t>(enc_w) * enc_h * opt.fps * 0.15;
    }
    int err = avcodec_open2(venc, codec, nullptr);
    if (err < 0) fail("cannot open the video encoder", err);
    avcodec_parameters_from_context(vst->codecpar, venc);
    vst->time_base = venc->time_base;
    vst->avg_frame_rate = rate;
    vframe = av_frame_alloc();
    vframe->format = AV_PIX_FMT_YUV420P;
    vframe->width = enc_w;
    vframe->height = enc_h;
    if (av_frame_get_buffer(vframe, 0) < 0) throw Error(path + ": out of memory");
    sws = sws_getContext(enc_w, enc_h, AV_PIX_FMT_BGR24, enc_w, enc_h, AV_PIX_FMT_YUV420P,
                         SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!sws) throw Error(path + ": cannot set up the colour conversion");
  }

  void open_audio_encoder(int rate, int channels) {
    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec) throw Error(path + ": this FFmpeg has no AAC encoder");
    audio_rate = rate;
    audio_channels = channels;
    ast = avformat_new_stream(oc, nullptr);
    aenc = avcodec_alloc_context3(codec);
    aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    aenc->sample_rate = rate;
    av_channel_layout_default(&aenc->ch_layout, channels);
    aenc->bit_rate = static_cast<int64_t>(opt.audio_bitrate) * channels;
    aenc->time_base = AVRational{1, rate};
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int err = avcodec_open2(aenc, codec, nullptr);
    if (err < 0) fail("cannot open the AAC encoder", err);
    avcodec_parameters_from_context(ast->codecpar, aenc);
    ast->time_base = aenc->time_base;
    aframe = av_frame_alloc();
    aframe->format = AV_SAMPLE_FMT_FLTP;
    aframe->sample_rate = rate;
    av_channel_layout_copy(&aframe->ch_layout, &aenc->ch_layout);
    aframe->nb_samples = aenc->frame_size;
    if (av_frame_get_buffer(aframe, 0) < 0) throw Error(path + ": out of memory");
    audio_chunk.resize(static_cast<size_t>(aenc->frame_size) * channels);
  }

  // Up to n sample frames of the soundtrack into audio_chunk; fewer only at its end.
  size_t pull_audio(size_t n) {
    if (audio_file) return audio_file->read(audio_chunk.data(), n);
    n = std::min(n, audio.size() - std::min(audio.size(), audio_pos));
    std::copy(audio.begin() + audio_pos, audio.begin() + audio_pos + n, audio_chunk.begin());
    return n;
  }

  void start() {
    if (header_written) return;
    int err = avio_open(&oc->pb, tmp.c_str(), AVIO_FLAG_WRITE);
    if (err < 0) fail("cannot create the output file", err);
    io_open = true;
    AVDictionary* mux = nullptr;
    av_dict_set(&mux, "movflags", "+faststart", 0);
    err = avformat_write_header(oc, &mux);
    av_dict_free(&mux);
    if (err < 0) fail("cannot write the file header", err);
    header_written = true;
  }

  void drain(AVCodecContext* enc, AVStream* st) {
    while (true) {
      int err = avcodec_receive_packet(enc, pkt);
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      if (err < 0) fail("encoding failed", err);
      av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
      pkt->stream_index = st->index;
      err = av_interleaved_write_frame(oc, pkt);
      if (err < 0) fail("cannot write to the output file (disk full?)", err);
    }
  }

  // Encodes audio up to sample index `until` (whole encoder frames; at the
  // end, `final`, the rest and a short last frame).
  void encode_audio(size_t until, bool final) {
    if (!aenc) return;
    const size_t fs = static_cast<size_t>(aenc->frame_size);
    until = std::min(until, audio_end);
    while (!audio_done && audio_pos < until && (audio_pos + fs <= until || final)) {
      const size_t n = pull_audio(std::min(fs, audio_end - audio_pos));
      if (n == 0) {
        audio_done = true;
        break;
      }
      if (av_frame_make_writable(aframe) < 0) throw Error(path + ": out of memory");
      for (int c = 0; c < audio_channels; ++c) {
        float* dst = reinterpret_cast<float*>(aframe->data[c]);
        for (size_t i = 0; i < n; ++i) dst[i] = audio_chunk[i * audio_channels + c];
      }
      // The AAC encoder takes a short last frame, so the file's audio ends
      // exactly where the samples do (no zero padding to a whole frame).
      aframe->nb_samples = static_cast<int>(n);
      aframe->pts = static_cast<int64_t>(audio_pos);
      audio_pos += n;
      int err = avcodec_send_frame(aenc, aframe);
      if (err < 0) fail("audio encoding failed", err);
      drain(aenc, ast);
      if (n < fs) audio_done = true;  // only the last frame may be short
    }
  }
};

std::string video_container(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".mp4" || ext == ".m4v") return "mp4";
  if (ext == ".mov") return "mov";
  throw Error(path + ": the output is H.264 video with AAC audio in MP4; name it .mp4, .m4v or .mov");
}

VideoWriter::VideoWriter(const std::string& path, int width, int height,
                         const VideoWriterOptions& opt)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.path = path;
  s.opt = opt;
  if (width < 2 || height < 2) throw Error(path + ": frame size too small to encode");
  if (opt.fps <= 0 || opt.fps > 1000) throw Error(path + ": invalid frame rate");
  const std::string container = video_container(path);
  check_output_path(path);
  s.width = width;
  s.height = height;
  s.enc_w = width & ~1;  // yuv420p needs even sizes: drop the odd last column/row
  s.enc_h = height & ~1;
  s.tmp = temp_path_beside(path, std::filesystem::path(path).extension().string());
  av_log_set_level(AV_LOG_QUIET);  // failures are reported through stf::Error
  int err = avformat_alloc_output_context2(&s.oc, nullptr, container.c_str(), s.tmp.c_str());
  if (err < 0 || !s.oc) s.fail("cannot create a " + container + " muxer", err);
  s.pkt = av_packet_alloc();
  s.open_video_encoder();
}

VideoWriter::~VideoWriter() = default;

void VideoWriter::set_audio(std::vector<float> samples) {
  Impl& s = *impl_;
  if (s.header_written || s.aenc) throw std::logic_error("VideoWriter::set_audio after the first frame or twice");
  if (samples.empty()) return;
  s.audio = std::move(samples);
  s.audio_end = s.audio.size();
  s.open_audio_encoder(s.opt.audio_sample_rate, 1);
}

void VideoWriter::set_audio_from(const std::string& media_path, double seconds, SoundStart start) {
  Impl& s = *impl_;
  if (s.header_written || s.aenc) throw std::logic_error("VideoWriter::set_audio_from after the first frame or twice");
  auto file = std::make_unique<AudioDecoder>(media_path, 0, 0, start);  // as stored, up to stereo
  const int rate = file->source_sample_rate();
  // AAC's rates up to 48 kHz (higher ones only cost bits); others become 48 kHz.
  static const int kAacRates[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
  if (std::find(std::begin(kAacRates), std::end(kAacRates), rate) == std::end(kAacRates))
    file = std::make_unique<AudioDecoder>(media_path, 48000, 0, start);
  s.audio_file = std::move(file);
  s.open_audio_encoder(s.audio_file->sample_rate(), s.audio_file->channels());
  if (seconds >= 0) s.audio_end = static_cast<size_t>(std::llround(seconds * s.audio_rate));
}

void VideoWriter::write(const cv::Mat& bgr) {
  Impl& s = *impl_;
  if (bgr.cols != s.width || bgr.rows != s.height || bgr.type() != CV_8UC3)
    throw Error(s.path + ": frame " + std::to_string(s.frames) + " has size " +
                std::to_string(bgr.cols) + "x" + std::to_string(bgr.rows) + ", expected " +
                std::to_string(s.width) + "x" + std::to_string(s.height) + " BGR");
  s.start();
  if (av_frame_make_writable(s.vframe) < 0) throw Error(s.path + ": out of memory");
  // swscale's SIMD readers may read past the end of the last row: convert
  // from a copy with a spare row (s.staging is reused between frames).
  if (s.staging.empty()) s.staging.create(s.height + 1, s.width, CV_8UC3);
  cv::Mat src = s.staging.rowRange(0, s.height);
  bgr.copyTo(src);
  const uint8_t* in[1] = {src.data};
  int stride[1] = {static_cast<int>(src.step[0])};
  sws_scale(s.sws, in, stride, 0, s.enc_h, s.vframe->data, s.vframe->linesize);
  s.vframe->pts = s.frames++;
  int err = avcodec_send_frame(s.venc, s.vframe);
  if (err < 0) s.fail("video encoding failed", err);
  s.drain(s.venc, s.vst);
  s.encode_audio(static_cast<size_t>(s.frames / s.opt.fps * s.audio_rate), false);
}

void VideoWriter::finish() {
  Impl& s = *impl_;
  if (s.finished) return;
  if (s.frames == 0) throw Error(s.path + ": no frames to write");
  s.encode_audio(s.audio_end, true);
  avcodec_send_frame(s.venc, nullptr);
  s.drain(s.venc, s.vst);
  if (s.aenc) {
    avcodec_send_frame(s.aenc, nullptr);
    s.drain(s.aenc, s.ast);
  }
  int err = av_write_trailer(s.oc);
  if (err < 0) s.fail("cannot finish the MP4 file (disk full?)", err);
  avio_closep(&s.oc->pb);
  s.io_open = false;
  std::error_code ec;
  fs::rename(s.tmp, s.path, ec);
  if (ec) throw Error(s.path + ": cannot move the finished file into place (" + ec.message() + ")");
  s.finished = true;
}

int64_t VideoWriter::frames_written() const { return impl_->frames; }

}  // namespace stf
