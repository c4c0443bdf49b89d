// Small helpers shared by the FFmpeg-based readers and writers.
#pragma once
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}
#include <string>

namespace stf {

std::string av_error_text(int err);

// Checks that path names a readable regular file; throws stf::Error otherwise.
void check_input_file(const std::string& path);

// Opens a container and reads its stream info; throws stf::Error with the
// file name and FFmpeg's reason on failure. The caller owns the context.
AVFormatContext* open_input(const std::string& path);

// Clockwise rotation in degrees (0/90/180/270) that displays the stream upright.
int stream_rotation(const AVStream* st);

// The width in square pixels of a picture `width` stored pixels wide whose
// sample aspect ratio is `sar` (av_guess_sample_aspect_ratio): anamorphic
// video (HDV's 1440x1080 shown as 1920x1080, DV's 720x480 as 640x480) stores
// its pixels wider or narrower than tall. `width` itself for square pixels or
// none said.
int square_pixel_width(AVRational sar, int width);

// The constant rate a video stream is read at. Variable-frame-rate files
// (phone recordings, edited clips) often sit on a regular grid with some
// frames held longer: the grid rate (r_frame_rate) is their true rate, while
// the average rate is lower. Falls back to the average when the grid rate is
// implausible (> 120) and to 25 when neither is known.
double stream_fps(const AVStream* st);

}  // namespace stf
