// synctalkface probe FILE [--json]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "stf/media.h"

namespace stf::cli {

static nlohmann::json to_json(const MediaInfo& info) {
  nlohmann::json j{{"path", info.path}, {"container", info.container},
                   {"duration", info.duration}, {"is_image", info.is_image}};
  j["streams"] = nlohmann::json::array();
  for (const StreamInfo& s : info.streams) {
    nlohmann::json js{{"index", s.index}, {"type", s.type}, {"codec", s.codec},
                      {"duration", s.duration}};
    if (s.type == "video") {
      js.update({{"width", s.width}, {"height", s.height}, {"fps", s.fps},
                 {"frames", s.frames}, {"rotation", s.rotation}});
    } else if (s.type == "audio") {
      js.update({{"sample_rate", s.sample_rate}, {"channels", s.channels}});
    }
    j["streams"].push_back(js);
  }
  return j;
}

void add_probe_command(CLI::App& root) {
  struct Opts { std::string file; bool json = false; int threads = 0; };
  auto opts = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand("probe", "Show container, streams, codecs, size, fps, duration");
  cmd->add_option("file", opts->file, "Video, audio or image file")->required();
  cmd->add_flag("--json", opts->json, "Print the result as JSON");
  add_threads_option(cmd, opts->threads);
  cmd->callback([opts] {
    MediaInfo info = probe_media(opts->file);
    if (opts->json) {
      std::printf("%s\n", to_json(info).dump(2).c_str());
      return;
    }
    std::printf("%s: %s, %.3f s\n", info.path.c_str(), info.container.c_str(), info.duration);
    for (const StreamInfo& s : info.streams) {
      std::printf("  #%d %s %s", s.index, s.type.c_str(), s.codec.c_str());
      if (s.type == "video")
        std::printf(" %dx%d %.3f fps %lld frames%s", s.width, s.height, s.fps,
                    static_cast<long long>(s.frames),
                    s.rotation ? (" rotated " + std::to_string(s.rotation)).c_str() : "");
      if (s.type == "audio") std::printf(" %d Hz %d ch", s.sample_rate, s.channels);
      if (s.duration > 0) std::printf(" %.3f s", s.duration);
      std::printf("\n");
    }
  });
}

}  // namespace stf::cli
