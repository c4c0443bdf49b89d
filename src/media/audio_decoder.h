// The first audio stream of any FFmpeg-readable file (audio or video),
// decoded a piece at a time: read_audio takes it whole, VideoWriter while it
// writes the frames, so a long soundtrack is never held in memory.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "stf/media.h"

namespace stf {

class AudioDecoder {
 public:
  // Converts to interleaved float32 in [-1, 1] at sample_rate (0: the
  // stream's) with `channels` channels (1: mixed down to mono; 2: stereo; 0:
  // the stream's, more than two mixed down to stereo), sample 0 where `start`
  // says (stf/media.h). Throws stf::Error naming the file if it has no
  // decodable audio stream.
  AudioDecoder(const std::string& path, int sample_rate, int channels, SoundStart start);
  ~AudioDecoder();
  AudioDecoder(const AudioDecoder&) = delete;
  AudioDecoder& operator=(const AudioDecoder&) = delete;

  // Fills dst with up to `frames` sample frames (frames x channels floats);
  // fewer only at the end of the stream, 0 after it. Encoders pad their last
  // frame (AAC: to 1024 samples): the stream ends where the container's
  // duration says, when it says.
  size_t read(float* dst, size_t frames);

  int sample_rate() const;          // of what read() gives
  int channels() const;
  int source_sample_rate() const;   // of the stream as stored
  double duration_seconds() const;  // the stream's, else the container's; 0 when neither is known

  struct Impl;
 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace stf
