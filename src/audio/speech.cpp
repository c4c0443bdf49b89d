#include "audio/speech.h"

#include <espeak-ng/speak_lib.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "stf/audio.h"
#include "stf/cancel.h"
#include "stf/error.h"
#include "stf/media.h"

namespace stf {

namespace {

struct Collected {
  std::vector<float> samples;
  std::vector<PhonemeEvent> phonemes;
  std::vector<double> words;
  int rate = 0;  // espeak-ng's sample rate (22050 for the Debian voices)
};

int on_synth(short* wav, int count, espeak_EVENT* events) {
  auto* out = static_cast<Collected*>(events->user_data);
  for (int i = 0; i < count; ++i) out->samples.push_back(wav[i] / 32768.0f);
  for (espeak_EVENT* e = events; e->type != espeakEVENT_LIST_TERMINATED; ++e) {
    // (a word event of length 0 closes some syntheses: no word)
    if (e->type == espeakEVENT_WORD && e->length > 0) out->words.push_back(e->audio_position / 1000.0);
    if (e->type != espeakEVENT_PHONEME) continue;
    out->phonemes.push_back({e->audio_position / 1000.0, std::string(e->id.string, strnlen(e->id.string, 8))});
  }
  return 0;  // continue
}

// The language names espeak-ng's voices answer to ("af en en-us ..."): the
// espeak-ng program that would list them is not installed with the library.
// Each is tried, as a few of the languages voices state are no voice's name.
std::string voice_names() {
  std::vector<std::string> names;
  for (const espeak_VOICE** v = espeak_ListVoices(nullptr); v && *v; ++v) {
    // languages: a priority byte, then a name, repeated; an empty name ends it.
    for (const char* l = (*v)->languages; l && *l; l += std::strlen(l + 1) + 2) names.emplace_back(l + 1);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  // Trying a language whose full dictionary is not installed ('be') makes
  // espeak-ng print a note on stderr: hidden, so the error stays one line.
  std::fflush(stderr);
  const int saved = dup(2), null = open("/dev/null", O_WRONLY);
  if (saved >= 0 && null >= 0) dup2(null, 2);
  std::string out;
  for (const std::string& n : names)
    if (espeak_SetVoiceByName(n.c_str()) == EE_OK) out += (out.empty() ? "" : " ") + n;
  std::fflush(stderr);
  if (saved >= 0 && null >= 0) dup2(saved, 2);
  if (null >= 0) close(null);
  if (saved >= 0) close(saved);
  return out;
}

// The voice variants espeak-ng has ("f3" in "en-us+f3"), sorted.
std::vector<std::string> variant_names() {
  espeak_VOICE spec{};
  spec.languages = "variant";
  std::vector<std::string> names;
  for (const espeak_VOICE** v = espeak_ListVoices(&spec); v && *v; ++v) {
    const std::string id = (*v)->identifier ? (*v)->identifier : "";  // "!v/f3"
    names.push_back(id.substr(id.find_last_of('/') + 1));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// One synthesis in this process: espeak-ng started, `text` spoken.
Collected speak(const std::string& text, const std::string& voice, int words_per_minute) {
  const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_PHONEME_EVENTS);
  if (rate <= 0) throw Error("espeak-ng could not start: is espeak-ng-data installed? (scripts/setup.sh installs it)");
  espeak_SetSynthCallback(on_synth);
  // espeak-ng speaks a variant it does not have in the plain voice, without a word.
  if (const size_t plus = voice.find('+'); plus != std::string::npos) {
    const std::string variant = voice.substr(plus + 1);
    const std::vector<std::string> variants = variant_names();
    if (!std::binary_search(variants.begin(), variants.end(), variant)) {
      std::string list;
      for (const std::string& n : variants) list += (list.empty() ? "" : " ") + n;
      throw Error("unknown espeak-ng voice variant '" + variant + "' in '" + voice + "'; the variants installed: " + list);
    }
  }
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK)
    throw Error("unknown espeak-ng voice '" + voice + "'; the voices installed: " + voice_names());
  espeak_SetParameter(espeakRATE, std::clamp(words_per_minute, espeakRATE_MINIMUM, espeakRATE_MAXIMUM), 0);
  std::srand(1);  // its breath noise
  Collected got;
  got.rate = rate;
  espeak_ERROR err = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, &got);
  if (err != EE_OK || espeak_Synchronize() != EE_OK) throw Error("espeak-ng failed to synthesise the text");
  if (got.samples.empty()) throw Error("espeak-ng produced no audio for the text");
  return got;
}

// What a child answers: a status byte (1 spoken, 0 an error) and then the
// speech, or the error's text.
void put(std::string& out, const void* data, size_t bytes) { out.append(static_cast<const char*>(data), bytes); }

std::string encode(const Collected& c) {
  std::string out(1, '\1');
  const uint64_t n_samples = c.samples.size(), n_phonemes = c.phonemes.size(), n_words = c.words.size();
  put(out, &c.rate, sizeof c.rate);
  put(out, &n_samples, sizeof n_samples);
  put(out, c.samples.data(), n_samples * sizeof(float));
  put(out, &n_phonemes, sizeof n_phonemes);
  for (const PhonemeEvent& p : c.phonemes) {
    const uint64_t length = p.phoneme.size();
    put(out, &p.time, sizeof p.time);
    put(out, &length, sizeof length);
    put(out, p.phoneme.data(), length);
  }
  put(out, &n_words, sizeof n_words);
  put(out, c.words.data(), n_words * sizeof(double));
  return out;
}

// Reads what put wrote, from `at` on; false where it is cut short.
struct Reader {
  const std::string& in;
  size_t at;
  bool get(void* data, size_t bytes) {
    if (in.size() - at < bytes) return false;
    std::memcpy(data, in.data() + at, bytes);
    at += bytes;
    return true;
  }
};

bool decode(const std::string& in, Collected& c) {
  Reader r{in, 1};  // past the status byte
  uint64_t n = 0;
  if (!r.get(&c.rate, sizeof c.rate) || !r.get(&n, sizeof n) || n > in.size() / sizeof(float)) return false;
  c.samples.resize(n);
  if (!r.get(c.samples.data(), n * sizeof(float)) || !r.get(&n, sizeof n) || n > in.size()) return false;
  c.phonemes.resize(n);
  for (PhonemeEvent& p : c.phonemes) {
    uint64_t length = 0;
    if (!r.get(&p.time, sizeof p.time) || !r.get(&length, sizeof length) || length > 8) return false;
    p.phoneme.resize(length);
    if (!r.get(p.phoneme.data(), length)) return false;
  }
  if (!r.get(&n, sizeof n) || n > in.size() / sizeof(double)) return false;
  c.words.resize(n);
  return r.get(c.words.data(), n * sizeof(double)) && r.at == in.size();
}

// Whole writes and reads on a socket; false where the other end is gone
// (send with MSG_NOSIGNAL: a process that died is an error here, not a
// SIGPIPE that ends this one).
bool write_all(int fd, const char* data, size_t size) {
  for (size_t at = 0; at < size;) {
    const ssize_t n = send(fd, data + at, size - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += size_t(n);
  }
  return true;
}

bool read_exact(int fd, char* data, size_t size) {
  for (size_t at = 0; at < size;) {
    const ssize_t n = read(fd, data + at, size - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += size_t(n);
  }
  return true;
}

// A message between this process, the speaker and its children: its length, then its bytes.
bool send_message(int fd, const std::string& m) {
  const uint64_t size = m.size();
  return write_all(fd, reinterpret_cast<const char*>(&size), sizeof size) && write_all(fd, m.data(), m.size());
}

bool receive_message(int fd, std::string& m) {
  uint64_t size = 0;
  if (!read_exact(fd, reinterpret_cast<char*>(&size), sizeof size) || size > (uint64_t(1) << 34)) return false;
  m.resize(size);
  return read_exact(fd, m.data(), size);
}

// A request: the rate, then the voice's length, the voice and the text.
std::string encode_request(const std::string& text, const std::string& voice, int words_per_minute) {
  std::string out;
  const int32_t wpm = words_per_minute;
  const uint64_t voice_size = voice.size();
  put(out, &wpm, sizeof wpm);
  put(out, &voice_size, sizeof voice_size);
  return out + voice + text;
}

// One synthesis in a child of this process; its answer as encode wrote it,
// or an error's ('\0' and the text).
std::string speak_in_child(const std::string& request) {
  Reader r{request, 0};
  int32_t wpm = 0;
  uint64_t voice_size = 0;
  r.get(&wpm, sizeof wpm);
  r.get(&voice_size, sizeof voice_size);
  const std::string voice = request.substr(r.at, voice_size), text = request.substr(r.at + voice_size);
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
    return std::string(1, '\0') + "cannot start espeak-ng: socketpair: " + std::strerror(errno);
  const pid_t child = fork();
  if (child < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::string(1, '\0') + "cannot start espeak-ng: fork: " + std::strerror(errno);
  }
  if (child == 0) {
    close(fds[0]);
    std::string out;
    try {
      out = encode(speak(text, voice, wpm));
    } catch (const std::exception& e) {
      out = std::string(1, '\0') + e.what();
    }
    send_message(fds[1], out);
    _exit(0);
  }
  close(fds[1]);
  std::string got;
  if (!receive_message(fds[0], got)) got.clear();  // the child stopped early: the caller says so
  close(fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    return std::string(1, '\0') + "espeak-ng stopped on signal " + strsignal(WTERMSIG(status)) + " while speaking the text";
  return got;
}

// The speaker: a process forked from this one at its first synthesis that
// answers each request from a child of its own (speak_in_child). Forking this process for each synthesis instead cost
// 0.2 s each in `synth`: every page this process wrote afterwards took a
// copy-on-write fault (docs/performance.md). It ends when this process
// does (its socket closes).
std::mutex g_speaker_mutex;
pid_t g_speaker = -1;
int g_speaker_socket = -1;

[[noreturn]] void serve(int socket) {
  std::string request;
  while (receive_message(socket, request))
    if (!send_message(socket, speak_in_child(request))) break;
  _exit(0);  // no destructors or exit handlers: they belong to the parent
}

void start_speaker() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw Error(std::string("cannot start espeak-ng: socketpair: ") + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw Error(std::string("cannot start espeak-ng: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {  // Ctrl-C stops it at once, unless this program ignores it
      struct sigaction now {};
      if (sigaction(sig, nullptr, &now) == 0 && now.sa_handler != SIG_IGN) std::signal(sig, SIG_DFL);
    }
    // Only its socket and the standard streams: a copy of another of this
    // process's files (an output, a connection, the socket's other end)
    // must not outlive its close.
    close(fds[0]);
    if (fds[1] != 3 && dup2(fds[1], 3) != 3) _exit(1);
    close_range(4, ~0U, 0);
    serve(3);
  }
  close(fds[1]);
  g_speaker = pid;
  g_speaker_socket = fds[0];
}

}  // namespace

// espeak-ng carries state from one synthesis to the next that its API
// cannot reset (the phase of its pitch flutter, its gain control, its echo):
// the same text spoken twice in a process came out different, so a resumed
// `synth` wrote other audio than an uninterrupted one. Each synthesis
// therefore runs in a process that starts espeak-ng afresh (this process
// never does), so that a text, voice and rate always give the same samples.
Speech synthesize_speech(const std::string& text, const std::string& voice, int words_per_minute) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("--text is empty: nothing to say");
  std::string answer;
  {
    std::lock_guard<std::mutex> lock(g_speaker_mutex);
    if (g_speaker_socket < 0) start_speaker();
    if (!send_message(g_speaker_socket, encode_request(text, voice, words_per_minute)) ||
        !receive_message(g_speaker_socket, answer)) {  // it was stopped (Ctrl-C) or killed: the next call starts another
      close(g_speaker_socket);
      g_speaker_socket = -1;
      int status = 0;
      while (waitpid(g_speaker, &status, 0) < 0 && errno == EINTR) {
      }
      check_cancelled();
      throw Error("espeak-ng stopped while speaking the text");
    }
  }
  check_cancelled();
  if (!answer.empty() && answer[0] == '\0') throw Error(answer.substr(1));
  Collected got;
  if (answer.empty() || !decode(answer, got)) throw Error("espeak-ng stopped early while speaking the text");
  Speech s;
  s.samples = resample_audio(got.samples, got.rate, kSampleRate);
  s.phonemes = std::move(got.phonemes);
  s.words = std::move(got.words);
  return s;
}

}  // namespace stf
