#include <algorithm>
#include <cmath>
#include <cstdint>

#include "media/audio_decoder.h"
#include "media/ffmpeg_util.h"
#include "stf/error.h"
#include "stf/media.h"
extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace stf {

struct AudioDecoder::Impl {
  std::string path;
  AVFormatContext* fmt = nullptr;
  AVCodecContext* dec = nullptr;
  SwrContext* swr = nullptr;
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frm = av_frame_alloc();
  int stream = -1, rate = 0, channels = 0;
  std::vector<float> pending;  // converted, not yet handed out (interleaved)
  size_t pending_pos = 0;      // in floats
  size_t delivered = 0;        // sample frames handed out
  size_t limit = SIZE_MAX;     // sample frames in the stream, from its duration when the container gives it
  size_t lead = 0;             // silence still to give before a sound that starts after the picture
  size_t skip = 0;             // sample frames still to drop from a sound that starts before the picture
  bool flushing = false, finished = false;

  ~Impl() {
    swr_free(&swr);
    av_frame_free(&frm);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    if (fmt) avformat_close_input(&fmt);
  }

  // Appends frame f (nullptr: the resampler's delayed tail) to pending.
  void convert(const AVFrame* f) {
    int cap = swr_get_out_samples(swr, f ? f->nb_samples : 0);
    if (cap <= 0) return;
    size_t old = pending.size();
    pending.resize(old + size_t(cap) * channels);
    uint8_t* dst[1] = {reinterpret_cast<uint8_t*>(pending.data() + old)};
    int got = swr_convert(swr, dst, cap, f ? const_cast<const uint8_t**>(f->extended_data) : nullptr,
                          f ? f->nb_samples : 0);
    pending.resize(old + size_t(std::max(got, 0)) * channels);
  }

  // Decodes until pending holds something or the stream has ended.
  void refill() {
    pending.clear();
    pending_pos = 0;
    while (pending.empty() && !finished) {
      int err = avcodec_receive_frame(dec, frm);
      if (err == 0) {
        convert(frm);
        av_frame_unref(frm);
      } else if (err == AVERROR_EOF) {
        convert(nullptr);
        finished = true;
      } else if (flushing) {
        finished = true;  // a decoder that neither gives frames nor reports the end
      } else {
        err = av_read_frame(fmt, pkt);
        if (err == AVERROR_EOF) {
          avcodec_send_packet(dec, nullptr);
          flushing = true;
        } else if (err < 0) {
          throw Error(path + ": read error in the audio (" + av_error_text(err) +
                      "); the file may be truncated or corrupt");
        } else {
          if (pkt->stream_index == stream) avcodec_send_packet(dec, pkt);  // a damaged packet is skipped
          av_packet_unref(pkt);
        }
      }
    }
  }
};

AudioDecoder::AudioDecoder(const std::string& path, int sample_rate, int channels, SoundStart start)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.path = path;
  d.rate = sample_rate;
  d.channels = channels;
  if (is_image_path(path)) throw Error(path + ": is an image, expected audio or video with sound");
  d.fmt = open_input(path);
  d.stream = av_find_best_stream(d.fmt, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (d.stream < 0) throw Error(path + ": has no audio stream");
  const AVStream* st = d.fmt->streams[d.stream];
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!codec) throw Error(path + ": no decoder for audio codec " + avcodec_get_name(st->codecpar->codec_id));
  d.dec = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(d.dec, st->codecpar);
  int err = avcodec_open2(d.dec, codec, nullptr);
  if (err < 0) throw Error(path + ": cannot open audio decoder (" + av_error_text(err) + ")");
  if (d.dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
    av_channel_layout_default(&d.dec->ch_layout, d.dec->ch_layout.nb_channels);
  if (sample_rate <= 0) d.rate = sample_rate = d.dec->sample_rate;
  if (channels <= 0) d.channels = channels = std::min(d.dec->ch_layout.nb_channels, 2);
  if (sample_rate <= 0 || channels <= 0) throw Error(path + ": the audio stream has no sample rate or channels");
  AVChannelLayout out_layout;
  av_channel_layout_default(&out_layout, channels);
  err = swr_alloc_set_opts2(&d.swr, &out_layout, AV_SAMPLE_FMT_FLT, sample_rate, &d.dec->ch_layout,
                            d.dec->sample_fmt, d.dec->sample_rate, 0, nullptr);
  if (err < 0 || swr_init(d.swr) < 0) throw Error(path + ": cannot set up audio resampling");
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    auto exact = std::llround(st->duration * av_q2d(st->time_base) * sample_rate);
    if (exact > 0) d.limit = static_cast<size_t>(exact);
  }
  // SoundStart::with_picture: sample 0 is what plays with the first frame
  // (VideoReader's time 0): a recording whose sound starts late gets silence
  // before it, sound from before the first frame is dropped.
  const int v = av_find_best_stream(d.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (start == SoundStart::with_picture && v >= 0 &&
      !(d.fmt->streams[v]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {  // not an MP3's cover
    const AVStream* vs = d.fmt->streams[v];
    if (st->start_time != AV_NOPTS_VALUE && vs->start_time != AV_NOPTS_VALUE) {
      const double late = st->start_time * av_q2d(st->time_base) - vs->start_time * av_q2d(vs->time_base);
      // Start times that leave no overlap (the sound after the picture's end
      // or ending before its start) are a broken file's, not a recording's:
      // honouring them would give hours of silence or no sound at all.
      const bool overlaps = (vs->duration <= 0 || late < vs->duration * av_q2d(vs->time_base)) &&
                            (st->duration <= 0 || -late < st->duration * av_q2d(st->time_base));
      const long long n = overlaps ? std::llround(late * sample_rate) : 0;
      if (n > 0) d.lead = static_cast<size_t>(n);
      if (n < 0) d.skip = static_cast<size_t>(-n);
      if (d.limit != SIZE_MAX) d.limit = d.limit + d.lead - std::min(d.limit, d.skip);
    }
  }
}

AudioDecoder::~AudioDecoder() = default;

size_t AudioDecoder::read(float* dst, size_t frames) {
  Impl& d = *impl_;
  frames = std::min(frames, d.limit - std::min(d.limit, d.delivered));
  size_t done = std::min(frames, d.lead);
  std::fill(dst, dst + done * d.channels, 0.0f);
  d.lead -= done;
  while (done < frames) {
    if (d.pending_pos == d.pending.size()) {
      if (d.finished) break;
      d.refill();
      continue;
    }
    const size_t available = (d.pending.size() - d.pending_pos) / d.channels;
    if (d.skip > 0) {
      const size_t k = std::min(d.skip, available);
      d.pending_pos += k * d.channels;
      d.skip -= k;
      continue;
    }
    const size_t n = std::min(frames - done, available);
    for (size_t i = 0; i < n * d.channels; ++i) dst[done * d.channels + i] = std::clamp(d.pending[d.pending_pos + i], -1.0f, 1.0f);
    d.pending_pos += n * d.channels;
    done += n;
  }
  d.delivered += done;
  return done;
}

int AudioDecoder::sample_rate() const { return impl_->rate; }
int AudioDecoder::channels() const { return impl_->channels; }
int AudioDecoder::source_sample_rate() const { return impl_->dec->sample_rate; }
double AudioDecoder::duration_seconds() const {
  const Impl& d = *impl_;
  if (d.limit != SIZE_MAX) return double(d.limit) / d.rate;
  return d.fmt->duration > 0 ? d.fmt->duration / double(AV_TIME_BASE) : 0.0;
}

std::vector<float> read_audio(const std::string& path, int sample_rate, SoundStart start) {
  AudioDecoder d(path, sample_rate, 1, start);
  std::vector<float> out;
  const size_t chunk = 1 << 16;
  // Reserve the expected length (and the room one more read asks for) so a
  // long file does not transiently need twice its size while the vector grows.
  if (d.duration_seconds() > 0) out.reserve(static_cast<size_t>(d.duration_seconds() * sample_rate) + 2 * chunk);
  for (size_t n = 1; n > 0;) {
    const size_t old = out.size();
    out.resize(old + chunk);
    n = d.read(out.data() + old, chunk);
    out.resize(old + n);
  }
  if (out.empty()) throw Error(path + ": the audio stream holds no samples");
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
