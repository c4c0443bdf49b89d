#include "train/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "stf/error.h"
#include "stf/files.h"

namespace stf {

static const char kMagic[8] = {'S', 'T', 'F', 'C', 'K', 'P', 'T', '\0'};
static const uint32_t kVersion = 1;

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, m] : ckpt.modules) {
    torch::serialize::OutputArchive sub;
    m->save(sub);
    archive.write(name, sub);
  }
  for (const auto& [name, o] : ckpt.optimizers) {
    torch::serialize::OutputArchive sub;
    o->save(sub);
    archive.write("optimizer." + name, sub);
  }
  std::ostringstream body;
  archive.save_to(body);
  std::string meta = ckpt.meta.dump();
  std::string bytes(kMagic, 8);
  uint32_t v = kVersion, n = static_cast<uint32_t>(meta.size());
  bytes.append(reinterpret_cast<const char*>(&v), 4);
  bytes.append(reinterpret_cast<const char*>(&n), 4);
  bytes += meta;
  bytes += body.str();
  write_file_atomic(path, bytes);
}

namespace {

// Returns the meta and the archive bytes.
std::pair<nlohmann::json, std::string> read_parts(const std::string& path, bool with_body) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, expected a model or checkpoint file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open checkpoint");
  char magic[8] = {0};
  uint32_t version = 0, n = 0;
  f.read(magic, 8);
  f.read(reinterpret_cast<char*>(&version), 4);
  f.read(reinterpret_cast<char*>(&n), 4);
  if (!f || std::memcmp(magic, kMagic, 8) != 0)
    throw Error(path + ": not a SyncTalkFace checkpoint (wrong magic number)");
  if (version != kVersion) throw Error(path + ": checkpoint version " + std::to_string(version) + " is not supported");
  std::string meta(n, '\0');
  f.read(meta.data(), n);
  if (!f) throw Error(path + ": truncated checkpoint");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(meta);
  } catch (const std::exception&) {
    throw Error(path + ": corrupt checkpoint header");
  }
  std::string body;
  if (with_body) body.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return {j, body};
}

}  // namespace

nlohmann::json read_checkpoint_meta(const std::string& path) { return read_parts(path, false).first; }

void load_checkpoint(const std::string& path, const Checkpoint& into, const torch::Device& device) {
  auto [meta, body] = read_parts(path, true);
  try {
    torch::serialize::InputArchive archive;
    std::istringstream in(body);
    archive.load_from(in, device);
    for (const auto& [name, m] : into.modules) {
      torch::serialize::InputArchive sub;
      archive.read(name, sub);
      m->load(sub);
    }
    for (const auto& [name, o] : into.optimizers) {
      torch::serialize::InputArchive sub;
      archive.read("optimizer." + name, sub);
      o->load(sub);
    }
  } catch (const c10::Error& e) {
    throw Error(path + ": truncated or corrupt checkpoint, or one of another configuration (" +
                first_line(e.what_without_backtrace()).substr(0, 160) + ")");
  }
}

}  // namespace stf
