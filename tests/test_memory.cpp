// Audio-Lip Memory against hand-computed numbers (S = 3 slots, C = 2,
// kappa = 2, identity projections) and its gradient flow: L_align trains
// the key side only, L_store the value side.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "helpers.h"
#include "model/audio_lip_memory.h"

using namespace stf;

namespace {

AudioLipMemory small_memory() {
  AudioLipMemory m(3, 2, /*kappa=*/2.0, 0.5);
  torch::NoGradGuard no_grad;
  m->key_memory.copy_(torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}, {1.0f, 1.0f}}));
  m->value_memory.copy_(torch::tensor({{2.0f, 0.0f}, {0.0f, -1.0f}, {1.0f, 1.0f}}));
  for (auto& item : m->named_parameters()) {
    if (item.key().find("weight") != std::string::npos) item.value().copy_(torch::eye(2));
    if (item.key().find("bias") != std::string::npos) item.value().zero_();
  }
  return m;
}

void expect_values(const torch::Tensor& t, std::vector<double> want, double tol = 1e-5) {
  auto flat = t.detach().flatten();
  ASSERT_EQ(flat.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(flat[i].item<double>(), want[i], tol) << "element " << i;
}

}  // namespace

TEST(Memory, MatchesHandComputedReference) {
  AudioLipMemory m = small_memory();
  auto f_aud = torch::tensor({{1.0f, 0.0f}});
  auto f_lip = torch::tensor({{0.5f, 0.5f}});
  MemoryOutput out = m->forward(f_aud, f_lip);
  // softmax(2 * cos): computed by hand from the formula in PAPER.md.
  expect_values(out.key_address, {0.59101543, 0.07998524, 0.32899932});
  expect_values(out.value_address, {0.35020027, 0.02069885, 0.62910088});
  expect_values(out.recalled, {1.51103019, 0.24901408});   // A_aud . M_lip
  expect_values(out.stored, {1.32950142, 0.60840203});     // A_lip . M_lip
  EXPECT_NEAR(out.store_loss.item<double>(), 0.34991180, 1e-5);
  EXPECT_NEAR(out.align_loss.item<double>(), 0.19655310, 1e-5);  // KL(A_lip || A_aud)

  // At inference there is no lip feature: addresses and recall only.
  MemoryOutput infer = m->forward(f_aud);
  EXPECT_TRUE(torch::allclose(infer.recalled, out.recalled));
  EXPECT_FALSE(infer.store_loss.defined());
}

TEST(Memory, AlignTrainsTheKeySideOnly) {
  AudioLipMemory m = small_memory();
  auto f_aud = torch::tensor({{1.0f, 0.3f}}).requires_grad_(true);
  auto f_lip = torch::tensor({{0.5f, 0.5f}}).requires_grad_(true);
  m->forward(f_aud, f_lip).align_loss.backward();
  EXPECT_GT(m->key_memory.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(f_aud.grad().abs().sum().item<double>(), 0);
  // A_lip is detached inside L_align: nothing on the value side moves.
  EXPECT_TRUE(!m->value_memory.grad().defined() || m->value_memory.grad().abs().sum().item<double>() == 0);
  EXPECT_TRUE(!f_lip.grad().defined() || f_lip.grad().abs().sum().item<double>() == 0);
  for (auto& item : m->named_parameters()) {
    const torch::Tensor& grad = item.value().grad();
    if (item.key().rfind("value_query", 0) == 0)
      EXPECT_TRUE(!grad.defined() || grad.abs().sum().item<double>() == 0) << item.key();
  }
}

TEST(Memory, StoreTrainsTheValueSideAndDetachesItsTarget) {
  AudioLipMemory m = small_memory();
  auto f_aud = torch::tensor({{1.0f, 0.3f}}).requires_grad_(true);
  auto f_lip = torch::tensor({{0.5f, 0.5f}}).requires_grad_(true);
  MemoryOutput out = m->forward(f_aud, f_lip);
  out.store_loss.backward();
  EXPECT_GT(m->value_memory.grad().abs().sum().item<double>(), 0);
  EXPECT_TRUE(!m->key_memory.grad().defined() || m->key_memory.grad().abs().sum().item<double>() == 0);
  EXPECT_TRUE(!f_aud.grad().defined() || f_aud.grad().abs().sum().item<double>() == 0);
  // f_lip reaches L_store only through its address (the target is detached):
  // compare with the gradient through the address alone.
  auto f_lip2 = f_lip.detach().clone().requires_grad_(true);
  auto a = m->address(f_lip2, m->value_memory);
  ((f_lip.detach() - m->read_value(a)).pow(2).mean()).backward();
  EXPECT_TRUE(torch::allclose(f_lip.grad(), f_lip2.grad(), 1e-6, 1e-7));
}

TEST(Memory, OneHotAddressReadsOneSlot) {
  AudioLipMemory m = small_memory();
  auto one_hot = torch::zeros({1, 3});
  one_hot[0][2] = 1;
  expect_values(m->read_value(one_hot), {1.0, 1.0});
}

// `synctalkface memory` on espeak-ng speech with the bundled model: the four
// pictures decode, the addresses are distributions over the slots, every
// frame has a top slot, and the phonemes of the sentence have rows.
TEST(MemoryAnalysis, PicturesAndNumbersForSpokenText) {
  std::string dir = test::temp_dir("memory_cli");
  test::CliResult r = test::run_cli("memory --text 'Bin blue at F two now.' --out '" + dir + "/m' --threads 2");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* png : {"addresses", "usage", "gallery", "phonemes"})
    EXPECT_FALSE(cv::imread(dir + "/m/" + png + ".png").empty()) << png;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/m/memory.json"));
  const int64_t slots = j["slots"], frames = j["frames"];
  EXPECT_EQ(slots, 96);
  EXPECT_GT(frames, 25);  // over a second of speech at 25 fps
  double total = 0;
  for (double w : j["mean_address"]) total += w;
  EXPECT_NEAR(total, 1.0, 1e-4) << "mean of softmax addresses sums to 1";
  EXPECT_EQ(static_cast<int64_t>(j["top_slot_per_frame"].size()), frames);
  EXPECT_GE(j["slots_used_as_top"].get<int>(), 1);
  EXPECT_LE(j["mean_entropy_nats"].get<double>(), j["uniform_entropy_nats"].get<double>() + 1e-6);
  int phoneme_frames = 0;
  for (const auto& [ph, row] : j["phonemes"].items()) phoneme_frames += row["frames"].get<int>();
  EXPECT_GE(phoneme_frames, frames - 2);  // every frame after the first phoneme has one
  EXPECT_TRUE(j["phonemes"].contains("b")) << j["phonemes"].dump();

  test::expect_one_line_error(test::run_cli("memory --out '" + dir + "/x'"), "--audio FILE or --text");
  cv::imwrite(dir + "/wall.png", cv::Mat(200, 200, CV_8UC3, cv::Scalar(90, 120, 160)));
  test::expect_one_line_error(test::run_cli("memory --text 'Hello.' --face '" + dir + "/wall.png' --out '" + dir + "/y'"),
                              "no face found");
}
