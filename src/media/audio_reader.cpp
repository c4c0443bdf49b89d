#include <cmath>

#include "media/ffmpeg_util.h"
#include "stf/error.h"
#include "stf/media.h"
extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace stf {

namespace {

// Owns the FFmpeg objects of one decode so every exit path frees them.
struct AudioDecode {
  AVFormatContext* fmt = nullptr;
  AVCodecContext* dec = nullptr;
  SwrContext* swr = nullptr;
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frm = av_frame_alloc();
  ~AudioDecode() {
    swr_free(&swr);
    av_frame_free(&frm);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    if (fmt) avformat_close_input(&fmt);
  }
};

}  // namespace

std::vector<float> read_audio(const std::string& path, int sample_rate) {
  if (is_image_path(path)) throw Error(path + ": is an image, expected audio or video with sound");
  AudioDecode d;
  d.fmt = open_input(path);
  int stream = av_find_best_stream(d.fmt, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (stream < 0) throw Error(path + ": has no audio stream");
  const AVCodecParameters* par = d.fmt->streams[stream]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) throw Error(path + ": no decoder for audio codec " + avcodec_get_name(par->codec_id));
  d.dec = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(d.dec, par);
  int err = avcodec_open2(d.dec, codec, nullptr);
  if (err < 0) throw Error(path + ": cannot open audio decoder (" + av_error_text(err) + ")");
  if (d.dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
    av_channel_layout_default(&d.dec->ch_layout, d.dec->ch_layout.nb_channels);

  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  err = swr_alloc_set_opts2(&d.swr, &mono, AV_SAMPLE_FMT_FLT, sample_rate, &d.dec->ch_layout,
                            d.dec->sample_fmt, d.dec->sample_rate, 0, nullptr);
  if (err < 0 || swr_init(d.swr) < 0) throw Error(path + ": cannot set up audio resampling");

  std::vector<float> out;
  // Reserve the expected length so a long file does not transiently need
  // twice its size while the vector grows.
  if (d.fmt->duration != AV_NOPTS_VALUE && d.fmt->duration > 0)
    out.reserve(static_cast<size_t>(d.fmt->duration / double(AV_TIME_BASE) * sample_rate * 1.01) + 4096);
  auto convert = [&](const AVFrame* f) {
    int cap = swr_get_out_samples(d.swr, f ? f->nb_samples : 0);
    if (cap <= 0) return;
    size_t old = out.size();
    out.resize(old + cap);
    uint8_t* dst[1] = {reinterpret_cast<uint8_t*>(out.data() + old)};
    int got = swr_convert(d.swr, dst, cap, f ? const_cast<const uint8_t**>(f->extended_data) : nullptr,
                          f ? f->nb_samples : 0);
    out.resize(old + std::max(got, 0));
  };
  auto drain = [&]() {
    while (avcodec_receive_frame(d.dec, d.frm) == 0) {
      convert(d.frm);
      av_frame_unref(d.frm);
    }
  };
  while (true) {
    err = av_read_frame(d.fmt, d.pkt);
    if (err == AVERROR_EOF) break;
    if (err < 0)
      throw Error(path + ": read error in the audio (" + av_error_text(err) +
                  "); the file may be truncated or corrupt");
    if (d.pkt->stream_index == stream && avcodec_send_packet(d.dec, d.pkt) >= 0) drain();
    av_packet_unref(d.pkt);
  }
  avcodec_send_packet(d.dec, nullptr);
  drain();
  convert(nullptr);  // flush the resampler's delay
  // Encoders pad the last frame (AAC: to 1024 samples); the container's
  // stream duration says where the real audio ends.
  const AVStream* st = d.fmt->streams[stream];
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    auto exact = static_cast<size_t>(std::llround(st->duration * av_q2d(st->time_base) * sample_rate));
    if (exact > 0 && exact < out.size()) out.resize(exact);
  }
  if (out.empty()) throw Error(path + ": the audio stream holds no samples");
  for (float& v : out) v = std::clamp(v, -1.0f, 1.0f);
  return out;
}

std::vector<float> resample_audio(const std::vector<float>& samples, int from_rate, int to_rate) {
  if (from_rate == to_rate || samples.empty()) return samples;
  SwrContext* swr = nullptr;
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  if (swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, to_rate, &mono, AV_SAMPLE_FMT_FLT, from_rate, 0,
                          nullptr) < 0 || swr_init(swr) < 0) {
    swr_free(&swr);
    throw Error("cannot set up audio resampling from " + std::to_string(from_rate) + " Hz");
  }
  std::vector<float> out(swr_get_out_samples(swr, static_cast<int>(samples.size())) + 64);
  uint8_t* dst[1] = {reinterpret_cast<uint8_t*>(out.data())};
  const uint8_t* src[1] = {reinterpret_cast<const uint8_t*>(samples.data())};
  int got = swr_convert(swr, dst, static_cast<int>(out.size()), src, static_cast<int>(samples.size()));
  int total = std::max(got, 0);
  dst[0] = reinterpret_cast<uint8_t*>(out.data() + total);
  int tail = swr_convert(swr, dst, static_cast<int>(out.size()) - total, nullptr, 0);  // flush the filter delay
  total += std::max(tail, 0);
  swr_free(&swr);
  out.resize(static_cast<size_t>(total));
  return out;
}

}  // namespace stf
