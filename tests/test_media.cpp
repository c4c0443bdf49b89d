// VideoReader / AudioReader / VideoWriter on generated and real media.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <malloc.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "helpers.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
}

using namespace stf;
namespace fs = std::filesystem;

namespace {

cv::Mat test_frame(int i, int w, int h) {
  cv::Mat f(h, w, CV_8UC3, cv::Scalar(40, 90, 160));
  cv::rectangle(f, cv::Rect((i * 3) % (w - 16), h / 3, 16, 16), cv::Scalar(250, 250, 250), cv::FILLED);
  return f;
}

// Frequency of the strongest component by a direct DFT scan (1 Hz steps).
double dominant_frequency(const std::vector<float>& x, int rate, double lo, double hi) {
  double best_f = 0, best_p = -1;
  for (double f = lo; f <= hi; f += 1.0) {
    double re = 0, im = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      re += x[i] * std::cos(2 * M_PI * f * i / rate);
      im += x[i] * std::sin(2 * M_PI * f * i / rate);
    }
    if (re * re + im * im > best_p) best_p = re * re + im * im, best_f = f;
  }
  return best_f;
}

// Five lossless frames of a 64x48 picture with a bright block in its top-left
// corner; returns the picture.
cv::Mat write_block_clip(const std::string& path) {
  cv::Mat stored(48, 64, CV_8UC3, cv::Scalar(40, 90, 160));
  cv::rectangle(stored, cv::Rect(0, 0, 24, 16), cv::Scalar(250, 250, 250), cv::FILLED);
  VideoWriterOptions opt;
  opt.crf = 0;
  VideoWriter writer(path, 64, 48, opt);
  for (int i = 0; i < 5; ++i) writer.write(stored);
  writer.finish();
  return stored;
}

// Three 64x64 frames of 10-bit HEVC tagged full range (0-1023, as some
// phones and screen recorders write it), grey 10 on the left half and 245 on
// the right (in 8-bit terms). The decoder gives them as yuv420p10 with the
// range in the frame: 8-bit full range comes as a yuvj format, which swscale
// reads right by itself. False when this FFmpeg has no libx265.
bool write_full_range_hevc(const std::string& path) {
  const AVCodec* codec = avcodec_find_encoder_by_name("libx265");
  if (!codec) return false;
  AVFormatContext* oc = nullptr;
  EXPECT_GE(avformat_alloc_output_context2(&oc, nullptr, "mp4", path.c_str()), 0);
  AVCodecContext* c = avcodec_alloc_context3(codec);
  c->width = c->height = 64;
  c->pix_fmt = AV_PIX_FMT_YUV420P10LE;
  c->time_base = AVRational{1, 25};
  c->framerate = AVRational{25, 1};
  c->color_range = AVCOL_RANGE_JPEG;
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  av_opt_set(c->priv_data, "x265-params", "log-level=none", 0);
  EXPECT_GE(avcodec_open2(c, codec, nullptr), 0);
  AVStream* st = avformat_new_stream(oc, nullptr);
  avcodec_parameters_from_context(st->codecpar, c);
  st->time_base = c->time_base;
  EXPECT_GE(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), 0);
  EXPECT_GE(avformat_write_header(oc, nullptr), 0);
  AVFrame* f = av_frame_alloc();
  f->format = AV_PIX_FMT_YUV420P10LE;
  f->width = f->height = 64;
  f->color_range = AVCOL_RANGE_JPEG;
  av_frame_get_buffer(f, 0);
  AVPacket* pkt = av_packet_alloc();
  auto drain = [&] {
    while (avcodec_receive_packet(c, pkt) == 0) {
      av_packet_rescale_ts(pkt, c->time_base, st->time_base);
      pkt->stream_index = st->index;
      av_interleaved_write_frame(oc, pkt);
    }
  };
  for (int i = 0; i < 3; ++i) {
    av_frame_make_writable(f);
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x)
        reinterpret_cast<uint16_t*>(f->data[0] + y * f->linesize[0])[x] = x < 32 ? 10 * 4 : 245 * 4;
    for (int p = 1; p < 3; ++p)
      for (int y = 0; y < 32; ++y) std::fill_n(reinterpret_cast<uint16_t*>(f->data[p] + y * f->linesize[p]), 32, uint16_t(512));
    f->pts = i;
    avcodec_send_frame(c, f);
    drain();
  }
  avcodec_send_frame(c, nullptr);
  drain();
  av_write_trailer(oc);
  avio_closep(&oc->pb);
  av_packet_free(&pkt);
  av_frame_free(&f);
  avcodec_free_context(&c);
  avformat_free_context(oc);
  return true;
}

}  // namespace

TEST(Media, FullRangeVideoKeepsItsShadowsAndHighlights) {
  const std::string path = test::temp_dir("fullrange") + "/full.mp4";
  if (!write_full_range_hevc(path)) GTEST_SKIP() << "this FFmpeg has no libx265";
  VideoReader reader(path);
  cv::Mat f;
  ASSERT_TRUE(reader.read(f));
  // Read as 16-235 the left half would come back 0 and the right 255.
  EXPECT_NEAR(cv::mean(f(cv::Rect(4, 4, 24, 56)))[1], 10, 3);
  EXPECT_NEAR(cv::mean(f(cv::Rect(36, 4, 24, 56)))[1], 245, 3);
}

TEST(Files, PngDecodesToTheSameImageWithOpenCV) {
  // Our encoder (zlib, no OpenCV: the training layer uses it) against OpenCV's decoder.
  cv::Mat img(37, 53, CV_8UC3);
  cv::randu(img, 0, 256);
  std::string png = encode_png(img.data, img.rows, img.cols);
  cv::Mat back = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
  ASSERT_EQ(back.size(), img.size());
  EXPECT_EQ(cv::norm(back, img, cv::NORM_INF), 0) << "channels must stay in BGR order";
  // The cv::Mat overload takes grey images too.
  cv::Mat grey(8, 9, CV_8UC1, cv::Scalar(77));
  std::string g = encode_png(grey);
  cv::Mat gb = cv::imdecode(std::vector<uchar>(g.begin(), g.end()), cv::IMREAD_GRAYSCALE);
  EXPECT_EQ(cv::norm(gb, grey, cv::NORM_INF), 0);
}

TEST(Files, AtomicWriteReplacesWholeOrFailsWithAReason) {
  std::string dir = test::temp_dir("atomic");
  std::string path = dir + "/out.txt";
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  std::string text = test::read_file(path);
  EXPECT_EQ(text, "second");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "no temporary file is left behind";
  EXPECT_THROW(write_file_atomic(dir + "/missing/out.txt", "x"), Error);
  EXPECT_THROW(write_file_atomic(dir, "x"), Error);
}

TEST(Media, WriterReaderRoundTrip) {
  std::string dir = test::temp_dir("roundtrip");
  std::string out = dir + "/clip.mp4";
  const int w = 160, h = 120, frames = 50;
  std::vector<float> tone(2 * 16000);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.5f * std::sin(2 * M_PI * 440.0 * i / 16000);
  {
    VideoWriter writer(out, w, h, {});
    writer.set_audio(tone);
    for (int i = 0; i < frames; ++i) writer.write(test_frame(i, w, h));
    writer.finish();
    EXPECT_EQ(writer.frames_written(), frames);
  }
  ASSERT_TRUE(fs::exists(out));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1)
      << "the temporary file was not renamed away";

  MediaInfo info = probe_media(out);
  ASSERT_EQ(info.streams.size(), 2u);

  VideoReader reader(out);
  EXPECT_DOUBLE_EQ(reader.fps(), 25.0);
  EXPECT_EQ(reader.width(), w);
  EXPECT_EQ(reader.height(), h);
  cv::Mat f;
  int n = 0;
  double psnr_sum = 0;
  while (reader.read(f)) {
    ASSERT_EQ(f.size(), cv::Size(w, h));
    psnr_sum += cv::PSNR(f, test_frame(n, w, h));
    ++n;
  }
  EXPECT_EQ(n, frames);
  EXPECT_GT(psnr_sum / n, 30.0) << "decoded frames differ from what was written";

  std::vector<float> audio = read_audio(out);
  EXPECT_NEAR(static_cast<double>(audio.size()), tone.size(), 16000 / 25) << "audio length off by more than a frame";
  std::vector<float> middle(audio.begin() + 4000, audio.begin() + 12000);
  EXPECT_NEAR(dominant_frequency(middle, 16000, 300, 600), 440.0, 2.0);
}

// crf 0 is lossless: grey frames (no chroma to subsample) come back within
// the colour conversions' rounding; the default crf loses much more on noise.
TEST(Media, LosslessCrfGivesBackTheFrames) {
  const std::string dir = test::temp_dir("lossless");
  const int w = 96, h = 64, frames = 8;
  std::vector<cv::Mat> written;
  cv::RNG rng(7);
  for (int i = 0; i < frames; ++i) {
    cv::Mat grey(h, w, CV_8U);
    rng.fill(grey, cv::RNG::UNIFORM, 16, 236);
    cv::Mat bgr;
    cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
    written.push_back(bgr);
  }
  auto worst_error = [&](int crf) {
    const std::string out = dir + "/crf" + std::to_string(crf) + ".mp4";
    VideoWriterOptions opt;
    opt.crf = crf;
    VideoWriter writer(out, w, h, opt);
    for (const cv::Mat& f : written) writer.write(f);
    writer.finish();
    VideoReader reader(out);
    cv::Mat f;
    double worst = 0;
    int n = 0;
    while (reader.read(f) && n < frames) {
      cv::Mat d;
      cv::absdiff(f, written[n++], d);
      double m = 0;
      cv::minMaxLoc(d.reshape(1), nullptr, &m);
      worst = std::max(worst, m);
    }
    EXPECT_EQ(n, frames);
    return worst;
  };
  const double lossless = worst_error(0), lossy = worst_error(VideoWriterOptions{}.crf);
  EXPECT_LE(lossless, 6);  // limited-range YUV and back: 5 here
  EXPECT_GT(lossy, 3 * lossless);
}

// The same frames give the same file whatever the heap held before: glibc's
// M_PERTURB fills fresh and freed blocks with a byte pattern, so a read of
// memory nobody wrote shows as a different file. (libx264's AVX-512 code
// does such reads; on CPUs without AVX-512 this test passes either way.)
TEST(Media, LossyOutputDoesNotDependOnUnwrittenMemory) {
  const std::string dir = test::temp_dir("perturb");
  std::vector<cv::Mat> frames;
  VideoReader reader(test::shared_data("vox/00010.mp4"));
  cv::Mat f;
  while (frames.size() < 8 && reader.read(f)) frames.push_back(f.clone());
  ASSERT_EQ(frames.size(), 8u);
  auto encode = [&](int perturb) {
    const std::string out = dir + "/p" + std::to_string(perturb) + ".mp4";
    mallopt(M_PERTURB, perturb);
    {
      VideoWriter writer(out, frames[0].cols, frames[0].rows, {});
      for (const cv::Mat& frame : frames) writer.write(frame);
      writer.finish();
    }
    mallopt(M_PERTURB, 0);
    return test::read_file(out);
  };
  const std::string a = encode(85), b = encode(170);
  ASSERT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << "two encodes of the same frames differ (" << a.size() << " and " << b.size() << " bytes)";
}

TEST(Media, OddFrameSizeIsEncodedEven) {
  std::string out = test::temp_dir("odd") + "/odd.mp4";
  VideoWriter writer(out, 65, 49, {});
  for (int i = 0; i < 5; ++i) writer.write(test_frame(i, 65, 49));
  writer.finish();
  VideoReader reader(out);
  EXPECT_EQ(reader.width(), 64);
  EXPECT_EQ(reader.height(), 48);
}

TEST(Media, UnfinishedWriterLeavesNoFile) {
  std::string dir = test::temp_dir("unfinished");
  {
    VideoWriter writer(dir + "/never.mp4", 64, 64, {});
    for (int i = 0; i < 10; ++i) writer.write(test_frame(i, 64, 64));
  }  // destroyed without finish(), as when an exception unwinds
  EXPECT_TRUE(fs::is_empty(dir)) << "a partial output file was left behind";
  EXPECT_THROW(VideoWriter(dir + "/x.mp4", 64, 64, {}).write(cv::Mat(32, 32, CV_8UC3)), Error);
  EXPECT_TRUE(fs::is_empty(dir));
}

// The container follows the output's name, and the speech starts with the
// video (no encoder priming left in: Matroska's would add 1024 samples); any
// other name (.mkv among them, or none) is refused before anything is written.
TEST(Media, ColourTagsRoundTrip) {
  // Tagged BT.2020 HLG (a phone's HDR video) in, the same tags out; untagged
  // by default.
  const std::string dir = test::temp_dir("colour");
  for (VideoColor tags : {VideoColor{9, 9, 18}, VideoColor{}}) {
    VideoWriterOptions opt;
    opt.color = tags;
    VideoWriter writer(dir + "/c.mp4", 64, 64, opt);
    for (int i = 0; i < 3; ++i) writer.write(test_frame(i, 64, 64));
    writer.finish();
    const VideoColor c = VideoReader(dir + "/c.mp4").color();
    EXPECT_EQ(c.space, tags.space);
    EXPECT_EQ(c.primaries, tags.primaries);
    EXPECT_EQ(c.transfer, tags.transfer);
  }
}

TEST(Media, ContainerFollowsTheOutputName) {
  std::string dir = test::temp_dir("containers");
  const std::pair<const char*, const char*> named[] = {{"b.MOV", "mov"}, {"c.m4v", "mp4"}};
  for (const auto& [name, demuxer] : named) {
    VideoWriter writer(dir + "/" + name, 64, 48, {});
    writer.set_audio(std::vector<float>(16000, 0.1f));
    for (int i = 0; i < 25; ++i) writer.write(test_frame(i, 64, 48));
    writer.finish();
    MediaInfo info = probe_media(dir + "/" + name);
    EXPECT_NE(info.container.find(demuxer), std::string::npos) << name << ": " << info.container;
    EXPECT_EQ(info.streams.size(), 2u) << name;
    EXPECT_NEAR(double(read_audio(dir + "/" + name).size()), 16000, 200) << name;
    VideoReader reader(dir + "/" + name);
    cv::Mat f;
    int frames = 0;
    while (reader.read(f)) ++frames;
    EXPECT_EQ(frames, 25) << name;
  }
  for (const char* name : {"a.mkv", "d.webm", "e.avi", "f.gif", "noext"}) {
    EXPECT_THROW(VideoWriter(dir + "/" + name, 64, 48, {}), Error) << name;
    EXPECT_FALSE(fs::exists(dir + "/" + name)) << name;
  }
  EXPECT_EQ(video_container("x/y.Mp4"), "mp4");
}

TEST(Media, RotationMetadataIsApplied) {
  // A 64x48 picture with a bright block in its top-left corner, filmed
  // "sideways": the reader must hand out the upright picture.
  std::string dir = test::temp_dir("rotation");
  const cv::Mat stored = write_block_clip(dir + "/plain.mp4");
  const std::pair<int, cv::RotateFlags> turns[] = {
      {90, cv::ROTATE_90_CLOCKWISE}, {180, cv::ROTATE_180}, {270, cv::ROTATE_90_COUNTERCLOCKWISE}};
  for (const auto& [cw, flag] : turns) {
    std::string path = dir + "/turned" + std::to_string(cw) + ".mp4";
    test::remux(dir + "/plain.mp4", path, test::Remux{cw});
    cv::Mat upright;
    cv::rotate(stored, upright, flag);
    VideoReader reader(path);
    EXPECT_EQ(reader.rotation(), cw);
    EXPECT_EQ(reader.width(), upright.cols) << cw;
    EXPECT_EQ(reader.height(), upright.rows) << cw;
    cv::Mat f;
    ASSERT_TRUE(reader.read(f));
    ASSERT_EQ(f.size(), upright.size()) << cw;
    EXPECT_LT(cv::norm(f, upright, cv::NORM_L1) / f.total(), 10) << "frame not turned " << cw << " degrees clockwise";
    MediaInfo info = probe_media(path);
    EXPECT_EQ(info.streams.at(0).rotation, cw);
    EXPECT_EQ(info.streams.at(0).width, upright.cols);
  }
}

TEST(Media, AnamorphicPixelsAreReadSquare) {
  // 64x48 stored pixels twice as wide as tall (as HDV stores 1920x1080 in
  // 1440x1080): read as the 128x48 picture a player shows, the block too.
  std::string dir = test::temp_dir("sar");
  const cv::Mat stored = write_block_clip(dir + "/plain.mp4");
  test::remux(dir + "/plain.mp4", dir + "/wide.mp4", test::Remux{0, 2, 1});
  cv::Mat shown;
  cv::resize(stored, shown, cv::Size(128, 48), 0, 0, cv::INTER_CUBIC);
  VideoReader reader(dir + "/wide.mp4");
  EXPECT_EQ(reader.width(), 128);
  EXPECT_EQ(reader.height(), 48);
  cv::Mat f;
  ASSERT_TRUE(reader.read(f));
  ASSERT_EQ(f.size(), shown.size());
  EXPECT_LT(cv::norm(f, shown, cv::NORM_L1) / f.total(), 15);
  EXPECT_EQ(probe_media(dir + "/wide.mp4").streams.at(0).width, 128);
}

TEST(Media, ThirtyFpsClipReportsThirtyFps) {
  // face1.mp4 is variable frame rate on a 30 fps grid (some frames held for
  // two ticks): it must read as 30 fps with held frames repeated.
  std::string path = test::shared_data("retalking/face1.mp4");
  VideoReader reader(path);
  EXPECT_NEAR(reader.fps(), 30.0, 1e-6);
  MediaInfo info = probe_media(path);
  EXPECT_NEAR(info.streams.at(0).fps, 30.0, 1e-6);
  cv::Mat f;
  int n = 0;
  while (reader.read(f)) ++n;
  EXPECT_NEAR(n, 6.1 * 30, 2) << "frames at 30 fps over the clip's duration";

  VideoReader cfr(test::shared_data("retalking/face4.mp4"));
  EXPECT_NEAR(cfr.fps(), 30.0, 1e-6);
}

TEST(Media, ReadsGridMpegAndItsAudio) {
  std::string path = test::shared_data("grid/bbaf2n.mpg");
  VideoReader reader(path);
  EXPECT_DOUBLE_EQ(reader.fps(), 25.0);
  cv::Mat f;
  int n = 0;
  while (reader.read(f)) ++n;
  EXPECT_EQ(n, 75);
  EXPECT_EQ(f.size(), cv::Size(360, 288));
  std::vector<float> audio = read_audio(path);  // MP2 44.1 kHz stereo -> 16 kHz mono
  EXPECT_NEAR(audio.size() / 16000.0, 2.95, 0.05);
}

// A recorder whose sound starts late, or a clip cut where its sound starts
// before the picture: the samples are timed against the first frame, as a
// player plays them, so the face is driven by what is heard while it is seen.
TEST(Media, SoundIsTimedAgainstThePicture) {
  const std::string dir = test::temp_dir("sound_start");
  const std::string src = test::shared_data("vox/00010.mp4");  // sound and picture both start at 0
  const std::vector<float> a = read_audio(src);
  test::remux(src, dir + "/late.mp4", test::Remux{0, 0, 1, 0.5});
  test::remux(src, dir + "/early.mp4", test::Remux{0, 0, 1, -0.2});
  const std::vector<float> late = read_audio(dir + "/late.mp4"), early = read_audio(dir + "/early.mp4");
  ASSERT_EQ(late.size(), a.size() + 8000);
  ASSERT_EQ(early.size(), a.size() - 3200);
  // Silence first: zeros, then the AAC encoder's 1024 samples of priming,
  // which the original's edit list skipped and the copy plays (faint).
  double lead = 0, speech = 0;
  for (size_t i = 0; i < 8000; ++i) lead += late[i] * late[i];
  for (float v : a) speech += v * v;
  EXPECT_LT(std::sqrt(lead / 8000), 0.05 * std::sqrt(speech / a.size()));
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(late[8000 + i], a[i]) << i;
  for (size_t i = 0; i < early.size(); ++i) ASSERT_EQ(early[i], a[3200 + i]) << i;
}

// Speech taken from another file (SoundStart::own) keeps what its sound holds
// before its picture starts: the stream from its first sample. That is the
// original's samples after the AAC priming, which the copy plays (at most
// 1024 samples; the original's edit list skipped them).
TEST(Media, SoundOfItsOwnKeepsWhatPlaysBeforeThePicture) {
  const std::string dir = test::temp_dir("sound_own");
  const std::string src = test::shared_data("vox/00010.mp4");
  const std::vector<float> a = read_audio(src);
  test::remux(src, dir + "/early.mp4", test::Remux{0, 0, 1, -0.2});
  const std::vector<float> own = read_audio(dir + "/early.mp4", 16000, SoundStart::own);
  ASSERT_GE(own.size(), a.size());
  const size_t priming = own.size() - a.size();
  EXPECT_LE(priming, 1024u);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(own[priming + i], a[i]) << i;
}

// Start times that leave sound and picture without any overlap (2 h apart, as
// a broken file may state them) are not honoured: the sound starts with the
// picture instead of after 2 h of silence, or not at all.
TEST(Media, SoundHoursAwayFromThePictureStartsWithIt) {
  const std::string dir = test::temp_dir("sound_bogus");
  const std::string src = test::shared_data("vox/00010.mp4");
  const std::vector<float> a = read_audio(src);
  for (double late : {7200.0, -7200.0}) {
    const std::string path = dir + "/bogus" + std::to_string(late > 0) + ".mp4";
    test::remux(src, path, test::Remux{0, 0, 1, late});
    const std::vector<float> b = read_audio(path);
    ASSERT_GE(b.size(), a.size()) << late;
    ASSERT_LE(b.size() - a.size(), 1024u) << late;
    const size_t priming = b.size() - a.size();
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(b[priming + i], a[i]) << late << " " << i;
  }
}

TEST(Media, StillImageIsOneFrameVideo) {
  std::string dir = test::temp_dir("still");
  cv::Mat img = test_frame(3, 120, 90);
  cv::imwrite(dir + "/face.png", img);
  VideoReader reader(dir + "/face.png");
  EXPECT_TRUE(reader.is_image());
  cv::Mat f;
  ASSERT_TRUE(reader.read(f));
  EXPECT_EQ(cv::norm(f, img, cv::NORM_INF), 0);
  EXPECT_FALSE(reader.read(f));
}

// A picture the name does not say is one (a JPEG saved as .jfif, a video of
// one frame) is read as a photo too; two frames are a video.
TEST(Media, OnePictureUnderAnyNameIsAPhoto) {
  std::string dir = test::temp_dir("one_picture");
  cv::Mat img = test_frame(3, 120, 90);
  cv::imwrite(dir + "/face.jpg", img);
  fs::rename(dir + "/face.jpg", dir + "/face.jfif");
  for (int frames : {1, 2}) {
    VideoWriter writer(dir + "/clip.mp4", 120, 90, {});
    for (int i = 0; i < frames; ++i) writer.write(img);
    writer.finish();
    VideoReader reader(dir + "/clip.mp4");
    EXPECT_EQ(reader.is_image(), frames == 1) << frames << " frames";
    EXPECT_EQ(probe_media(dir + "/clip.mp4").is_image, frames == 1) << frames << " frames";
    EXPECT_EQ(reader.fps(), frames == 1 ? 0 : 25) << frames << " frames";
    cv::Mat f;
    int n = 0;
    while (reader.read(f)) {
      EXPECT_GT(cv::PSNR(f, img), 30) << "frame " << n;
      ++n;
    }
    EXPECT_EQ(n, frames);
  }
  VideoReader jfif(dir + "/face.jfif");
  EXPECT_TRUE(jfif.is_image());
  EXPECT_TRUE(probe_media(dir + "/face.jfif").is_image);
  cv::Mat f;
  ASSERT_TRUE(jfif.read(f));
  EXPECT_GT(cv::PSNR(f, img), 30);
  EXPECT_FALSE(jfif.read(f));
}

TEST(Media, ReadAudioResamplesWav) {
  std::vector<float> a = read_audio(test::shared_data("retalking/speech1.wav"));
  EXPECT_NEAR(a.size() / 16000.0, 5.0, 0.05);
  float peak = 0;
  for (float v : a) peak = std::max(peak, std::abs(v));
  EXPECT_GT(peak, 0.05f);
  EXPECT_LE(peak, 1.0f);
}

TEST(Media, WriterMuxesAnotherFilesSoundAsRecorded) {
  // 44.1 and 48 kHz stereo speech: the output carries it at that rate in
  // stereo, not at the model's 16 kHz mono, aligned and with its high band,
  // whole or cut where asked.
  const std::string dir = test::temp_dir("mux");
  for (const std::string name : {"speech1.wav", "speech2.wav"}) {
    const std::string src = test::shared_data("retalking/" + name);
    const int rate = probe_media(src).streams[0].sample_rate;
    for (double cut : {-1.0, 2.0}) {
      const std::string out = dir + "/dub.mp4";
      VideoWriter writer(out, 64, 64);
      writer.set_audio_from(src, cut);
      for (int i = 0; i < 125; ++i) writer.write(test_frame(i, 64, 64));
      writer.finish();
      MediaInfo info = probe_media(out);
      ASSERT_EQ(info.streams.size(), 2u);
      EXPECT_EQ(info.streams[1].sample_rate, rate) << name;
      EXPECT_EQ(info.streams[1].channels, 2) << name;
      const std::vector<float> a = read_audio(src, rate), b = read_audio(out, rate);
      const double expected = cut < 0 ? double(a.size()) : cut * rate;
      EXPECT_NEAR(double(b.size()), expected, rate / 1000.0) << name << " cut " << cut;  // within 1 ms
      // Same samples at the same times (correlation 0.9998 here), and the
      // first difference, a high-pass filter, keeps its energy (0.97-0.99
      // here; through 16 kHz the sound keeps 0.77-0.78 of it).
      double ab = 0, aa = 0, bb = 0, da = 0, db = 0;
      for (size_t i = 1; i < std::min(a.size(), b.size()); ++i) {
        ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
        da += std::pow(a[i] - a[i - 1], 2), db += std::pow(b[i] - b[i - 1], 2);
      }
      EXPECT_GT(ab / std::sqrt(aa * bb), 0.99) << name;
      EXPECT_GT(db / da, 0.9) << name;
      EXPECT_LT(db / da, 1.1) << name;
    }
  }
  // A mono 96 kHz track: mono at 48 kHz.
  const std::string hi = dir + "/hi.mp4", out = dir + "/dub96.mp4";
  VideoWriterOptions opt;
  opt.audio_sample_rate = 96000;
  VideoWriter tone(hi, 64, 64, opt);
  std::vector<float> samples(96000);
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = 0.3f * std::sin(2 * M_PI * 440 * i / 96000.0);
  tone.set_audio(samples);
  for (int i = 0; i < 25; ++i) tone.write(test_frame(i, 64, 64));
  tone.finish();
  ASSERT_EQ(probe_media(hi).streams[1].sample_rate, 96000);
  VideoWriter writer(out, 64, 64);
  writer.set_audio_from(hi);
  for (int i = 0; i < 25; ++i) writer.write(test_frame(i, 64, 64));
  writer.finish();
  MediaInfo info = probe_media(out);
  EXPECT_EQ(info.streams[1].sample_rate, 48000);
  EXPECT_EQ(info.streams[1].channels, 1);
  EXPECT_NEAR(read_audio(out).size() / 16000.0, 1.0, 0.002);
}
