// Media I/O on the FFmpeg libraries: streaming video decode, audio decode to
// mono float, and an atomic MP4 writer (temp file + rename).
#pragma once
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace stf {

struct StreamInfo {
  int index = 0;
  std::string type;   // "video", "audio", "subtitle", "data"
  std::string codec;  // FFmpeg codec name
  int width = 0, height = 0;
  double fps = 0;       // video: average frame rate
  int64_t frames = 0;   // video: frame count when the container states it, else 0
  int rotation = 0;     // video: clockwise degrees to apply for display (0/90/180/270)
  int sample_rate = 0, channels = 0;  // audio
  double duration = 0;  // seconds, 0 when unknown
};

struct MediaInfo {
  std::string path;
  std::string container;  // FFmpeg demuxer name(s)
  double duration = 0;    // seconds
  std::vector<StreamInfo> streams;
  bool is_image = false;  // one picture (any name): VideoReader reads it as a photo
};

// Reads container and stream metadata. Throws stf::Error on a missing,
// unreadable or non-media file.
MediaInfo probe_media(const std::string& path);

// True when the path has a still-image extension (jpg, png, bmp, webp, ...).
bool is_image_path(const std::string& path);

// How a video's YUV samples are to be shown, as tagged in the stream: FFmpeg's
// AVColorSpace, AVColorPrimaries and AVColorTransferCharacteristic values
// (2 = unspecified; 1 = BT.709; 9, 9, 18 = BT.2020 HLG, a phone's HDR video).
// The frames are converted with one matrix both ways, so an output tagged
// as its input shows its untouched pixels as the input does.
struct VideoColor {
  int space = 2, primaries = 2, transfer = 2;
};

// Streams BGR frames one at a time at a constant frame rate. Variable frame
// rate input is resampled by timestamps to the rate of its frame grid (held
// frames repeated, extra ones dropped; fps() says which rate: the grid rate
// when plausible, else the average); rotation metadata is applied. A still
// image reads as a single frame.
class VideoReader {
 public:
  explicit VideoReader(const std::string& path);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  // Next frame (8-bit BGR, display orientation). False at the end.
  bool read(cv::Mat& frame);

  double fps() const;          // 0 for a still image
  int64_t frame_count() const; // estimate from the container, 0 if unknown
  double duration() const;     // seconds, 0 if unknown
  int width() const;           // after rotation
  int height() const;
  int rotation() const;
  VideoColor color() const;    // a still image: the defaults
  int64_t corrupt_frames() const;  // packets the decoder rejected (skipped)
  bool is_image() const;

  struct Impl;
 private:
  std::unique_ptr<Impl> impl_;
};

// Where sample 0 of a file's sound lies. with_picture: in a file with a
// picture, what plays with its first frame (silence first if the sound starts
// later, sound from before the first frame dropped): a face video's own
// sound, timed against its frames. own: the sound stream's first sample, as
// for speech taken from another file, whose picture plays no part. A sound
// whose stated start would not overlap the picture at all (start times hours
// apart, as broken files give) starts with the first frame either way.
enum class SoundStart { with_picture, own };

// Decodes the first audio stream of any FFmpeg-readable file (audio or video)
// to mono float32 in [-1, 1] at sample_rate. Throws if there is no audio
// stream or it holds no samples.
std::vector<float> read_audio(const std::string& path, int sample_rate = 16000,
                              SoundStart start = SoundStart::with_picture);

// Mono float samples from one rate to another (libswresample).
std::vector<float> resample_audio(const std::vector<float>& samples, int from_rate, int to_rate);

struct VideoWriterOptions {
  double fps = 25;
  int crf = 20;                       // x264 constant rate factor (lower = better)
  std::string preset = "veryfast";    // x264 speed preset
  int audio_sample_rate = 16000;      // rate of the samples given to set_audio
  int audio_bitrate = 96000;          // AAC bits/s per channel
  VideoColor color;                   // tags of the output (generate: the input's); 16-235 range
};

// The container an output video's name asks for, as FFmpeg's muxer name:
// .mp4 and .m4v -> "mp4", .mov -> "mov" (any case). Throws stf::Error for any
// other name (.webm, .avi, .gif, none): what the writer encodes, H.264 with
// AAC audio, is not what those promise. Not .mkv either: FFmpeg's Matroska
// muxer keeps the AAC encoder's 1024 priming samples, so the speech would
// play 64 ms late (at 16 kHz) against the mouth.
std::string video_container(const std::string& path);

// Encodes BGR frames to H.264 (libx264, yuv420p; MPEG-4 Part 2 if this FFmpeg
// has no libx264) in the container of video_container(path), with an optional
// AAC track. Writes to a temporary file beside the target and renames it on
// finish(); destroying an unfinished writer deletes the temporary file, so no
// partial output is ever left.
class VideoWriter {
 public:
  VideoWriter(const std::string& path, int width, int height, const VideoWriterOptions& opt = {});
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Mono float samples at opt.audio_sample_rate, muxed alongside the video.
  // Call before the first write(), once (this or set_audio_from). The audio
  // is cut or zero-padded only by the caller: it is written whole.
  void set_audio(std::vector<float> samples);
  // The first audio track of any media file, as it sounds: at its own
  // sample rate (AAC's rates up to 48 kHz; others become 48 kHz), mono or
  // stereo (more channels are mixed down to stereo), cut at `seconds` (< 0:
  // whole), starting as `start` says. Decoded while the frames are written,
  // never held whole.
  void set_audio_from(const std::string& media_path, double seconds = -1,
                      SoundStart start = SoundStart::with_picture);
  void write(const cv::Mat& bgr);  // size must match the constructor's
  void finish();                   // flush, close, rename to the target path
  int64_t frames_written() const;

  struct Impl;
 private:
  std::unique_ptr<Impl> impl_;
};

// PNG bytes of an 8-bit BGR (or grey) image (stf::encode_png in stf/files.h).
std::string encode_png(const cv::Mat& image);

// NumPy .npy (format 1.0), float32, C order.
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);

}  // namespace stf
