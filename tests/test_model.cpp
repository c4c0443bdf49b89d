// Shapes of every network part for both configurations, gradient flow of
// the full generator objective, and configuration round trips.
#include <gtest/gtest.h>

#include <cmath>

#include "model/blocks.h"
#include "model/config.h"
#include "model/discriminator.h"
#include "model/model_file.h"
#include "model/precision.h"
#include "model/syncnet.h"
#include "model/synctalkface.h"
#include "stf/error.h"

using namespace stf;

class ModelShapes : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelShapes, EveryPartHasTheDocumentedShape) {
  torch::manual_seed(0);
  ModelConfig c = ModelConfig::preset(GetParam());
  const int64_t S = c.image_size, B = 2, C = c.feature;
  SyncTalkFace g(c);
  auto mel = torch::randn({B, 1, 80, 16});
  auto frames = torch::rand({B, 3, S, S});
  auto identity = identity_input(frames, torch::rand({B, 3, S, S}));
  ASSERT_EQ(identity.sizes(), (std::vector<int64_t>{B, 6, S, S}));
  auto lips = mask_upper_half(torch::rand({B, 3, 5, S, S}).transpose(1, 2)).transpose(1, 2).contiguous();

  EXPECT_EQ(g->audio_encoder->forward(mel).sizes(), (std::vector<int64_t>{B, C}));
  EXPECT_EQ(g->lip_encoder->forward(lips).sizes(), (std::vector<int64_t>{B, C}));
  auto skips = g->encode_identity(identity);
  ASSERT_EQ(skips.size(), 7u);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(skips[i].sizes(), (std::vector<int64_t>{B, c.identity_widths[i], S >> i, S >> i})) << i;
  EXPECT_EQ(skips[6].sizes(), (std::vector<int64_t>{B, c.identity_widths[6], 1, 1}));

  GeneratorOutput out = g->forward_train(mel, identity, lips);
  EXPECT_EQ(out.recalled_image.sizes(), (std::vector<int64_t>{B, 3, S, S}));
  EXPECT_EQ(out.stored_image.sizes(), (std::vector<int64_t>{B, 3, S, S}));
  EXPECT_EQ(out.memory.key_address.sizes(), (std::vector<int64_t>{B, c.slots}));
  EXPECT_GE(out.recalled_image.min().item<float>(), 0.0f);
  EXPECT_LE(out.recalled_image.max().item<float>(), 1.0f);
  g->eval();
  EXPECT_EQ(g->forward(mel, identity).sizes(), (std::vector<int64_t>{B, 3, S, S}));

  SyncNet sync(S, c.sync_width, c.sync_feature, c.residual_blocks);
  auto window = torch::rand({B, 5, 3, S, S});
  auto lower = stack_lower_halves(window);
  EXPECT_EQ(lower.sizes(), (std::vector<int64_t>{B, 15, S / 2, S}));
  auto p = sync->forward(lower, mel);
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{B}));
  EXPECT_GE(p.min().item<float>(), -1e-6f);
  EXPECT_LE(p.max().item<float>(), 1.0f + 1e-6f);

  Discriminator disc(c.disc_width, false);
  EXPECT_EQ(disc->forward(frames).sizes(), (std::vector<int64_t>{B}));
  Discriminator patches(c.disc_width, true);
  EXPECT_EQ(patches->forward(frames).sizes(), (std::vector<int64_t>{B, (S / 8) * (S / 8)}));
}

// Each of the patch discriminator's logits sees 23 x 35 pixels of the lower
// half: a change in its top-left corner moves the logits of the patches there
// and leaves the others exactly as they were; the upper half moves none.
TEST(Model, PatchDiscriminatorJudgesEachPatchByItsOwnPixels) {
  torch::manual_seed(3);
  torch::NoGradGuard ng;
  const int64_t S = 96, n = S / 8;
  Discriminator disc(4, true);
  auto face = torch::rand({1, 3, S, S});
  auto before = disc->forward(face).view({n, n});
  auto changed = face.clone();
  changed.slice(2, S / 2, S / 2 + 4).slice(3, 0, 4).fill_(0.5);  // rows 0-3, columns 0-3 of the lower half
  changed.slice(2, 0, S / 2).fill_(0.2);                         // the upper half
  auto diff = (disc->forward(changed).view({n, n}) - before).abs();
  // Output (r, c) sees rows 4r - 11 .. 4r + 11 and columns 8c - 17 .. 8c + 17 of the lower half.
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) {
      const bool sees = 4 * r - 11 <= 3 && 8 * c - 17 <= 3;
      if (sees) EXPECT_GT(diff[r][c].item<float>(), 0) << r << "," << c;
      else EXPECT_EQ(diff[r][c].item<float>(), 0) << r << "," << c;
    }
}

INSTANTIATE_TEST_SUITE_P(Configs, ModelShapes, ::testing::Values("lite", "paper"));

TEST(Model, EveryGeneratorParameterGetsAGradient) {
  torch::manual_seed(1);
  ModelConfig c = ModelConfig::preset("lite");
  const int64_t S = c.image_size, B = 2;
  SyncTalkFace g(c);
  auto mel = torch::randn({B, 1, 80, 16});
  auto target = torch::rand({B, 3, S, S});
  auto identity = identity_input(target, torch::rand({B, 3, S, S}));
  auto lips = torch::rand({B, 3, 5, S, S});
  GeneratorOutput out = g->forward_train(mel, identity, lips);
  auto loss = (out.recalled_image - target).abs().mean() + (out.stored_image - target).abs().mean() +
              out.memory.store_loss + out.memory.align_loss;
  loss.backward();
  for (auto& item : g->named_parameters()) {
    const torch::Tensor& grad = item.value().grad();
    ASSERT_TRUE(grad.defined()) << item.key() << " got no gradient";
    EXPECT_GT(grad.abs().sum().item<double>(), 0) << item.key() << " got a zero gradient";
  }
}

TEST(Model, WithoutMemoryTheDecoderGetsTheAudioFeature) {
  ModelConfig c = ModelConfig::preset("lite");
  c.memory = false;
  SyncTalkFace g(c);
  EXPECT_TRUE(g->memory.is_empty());
  EXPECT_TRUE(g->lip_encoder.is_empty());
  auto out = g->forward_train(torch::randn({2, 1, 80, 16}), torch::rand({2, 6, 96, 96}), {});
  EXPECT_EQ(out.recalled_image.sizes(), (std::vector<int64_t>{2, 3, 96, 96}));
  EXPECT_FALSE(out.stored_image.defined());
}

// hide_mouth keeps everything outside mouth_region, keeps the region's colour
// (its 2x2 cell means) and removes its detail; a model whose config says so
// hides its references' mouth at inference, others leave them alone.
TEST(Model, HiddenReferenceMouthKeepsColourNotShape) {
  torch::manual_seed(4);
  const int64_t S = 96;
  auto refs = torch::rand({2, 3, S, S}) + torch::linspace(0, 1, S).view({1, 1, S, 1});  // lighter downwards
  auto hidden = hide_mouth(refs);
  auto inside = torch::zeros({S, S}, torch::kBool);
  inside.slice(0, S / 2, S * 4 / 5).slice(1, S / 4, S * 3 / 4).fill_(true);  // rows 48-76, columns 24-72
  EXPECT_TRUE(torch::equal(refs.masked_select(~inside), hidden.masked_select(~inside)));
  // The region (rows 48-75, columns 24-71) in 2x2 cells of 14 x 24: each
  // corner pixel takes its cell's mean, the pixels between blend them.
  for (int64_t i : {0, 1})
    for (int64_t j : {0, 1}) {
      auto cell = refs.slice(2, S / 2 + 14 * i, S / 2 + 14 * (i + 1)).slice(3, S / 4 + 24 * j, S / 4 + 24 * (j + 1));
      auto corner = hidden.select(2, i ? S * 4 / 5 - 1 : S / 2).select(2, j ? S * 3 / 4 - 1 : S / 4);  // (2, 3)
      EXPECT_TRUE(torch::allclose(corner, cell.mean({2, 3}), 0, 1e-5)) << i << j;
    }
  auto top = hidden.select(2, S / 2).select(2, S / 4), bottom = hidden.select(2, S * 4 / 5 - 1).select(2, S / 4);
  EXPECT_GT((bottom - top).min().item<float>(), 0.1) << "the region's own shading stays";
  auto step = [&](const torch::Tensor& t) {  // mean |horizontal difference| inside the region
    auto m = mouth_region(t);
    return (m.slice(3, 1) - m.slice(3, 0, -1)).abs().mean().item<double>();
  };
  EXPECT_LT(step(hidden), 0.02 * step(refs));

  ModelConfig c = ModelConfig::preset("lite");
  auto frame = torch::rand({2, 3, S, S});
  SyncTalkFace plain(c);
  EXPECT_TRUE(torch::equal(plain->inference_identity(frame, refs), identity_input(frame, refs)));
  c.hide_ref_mouth = true;
  SyncTalkFace hiding(c);
  EXPECT_TRUE(torch::equal(hiding->inference_identity(frame, refs), identity_input(frame, hidden)));
}

TEST(Model, ConfigRoundTripsThroughJson) {
  for (const char* name : {"lite", "paper"}) {
    ModelConfig c = ModelConfig::preset(name);
    c.slots = 48;
    c.loss.vv = 0;
    c.hide_ref_mouth = true;
    c.crop = CropPlacement::steady;
    ModelConfig back = ModelConfig::from_json(c.to_json());
    EXPECT_EQ(back.to_json(), c.to_json());
    EXPECT_EQ(back.crop, CropPlacement::steady);
  }
  ModelConfig paper = ModelConfig::preset("paper");
  EXPECT_EQ(paper.image_size, 128);
  EXPECT_EQ(paper.slots, 96);
  EXPECT_EQ(paper.feature, 512);
  EXPECT_DOUBLE_EQ(paper.kappa, 16);
  EXPECT_DOUBLE_EQ(paper.loss.recon, 10);
  EXPECT_EQ(paper.identity_widths, (std::vector<int>{16, 32, 64, 128, 256, 512, 512}));
  EXPECT_THROW(ModelConfig::preset("huge"), Error);
  nlohmann::json bad = paper.to_json();
  bad["image_size"] = 100;
  EXPECT_THROW(ModelConfig::from_json(bad), Error);
  nlohmann::json old = paper.to_json();  // models before session 26 have no "crop": chin-bounded crops
  old.erase("crop");
  EXPECT_EQ(ModelConfig::from_json(old).crop, CropPlacement::bounds);
  old["crop"] = "sideways";
  EXPECT_THROW(ModelConfig::from_json(old), Error);
}

TEST(Model, FlopCounterCountsConvolutionsByHand) {
  ConvBlock conv(3, 8, 3, 1, 1);
  UpBlock up(8, 4, 3, 2, 1, 1);
  FlopCounter count;
  auto y = conv->forward(torch::rand({2, 3, 10, 10}));  // 2 x (2*8*10*10 outputs x 3*3*3 MACs)
  EXPECT_EQ(count.flops(), 2 * (2 * 8 * 100) * 27);
  up->forward(y);                                        // every input spreads to 4 x 3 x 3
  EXPECT_EQ(count.flops(), 2 * (2 * 8 * 100) * 27 + 2 * (2 * 8 * 100) * 36);
}

// The blocks compute a convolution whose kernel covers its whole input (and
// a transposed convolution of a 1x1 input) as a matrix product: same output
// and same weight gradient as LibTorch's convolutions, in training mode.
TEST(Model, WholeKernelConvolutionsAsMatrixProductsMatchTheConvolution) {
  torch::manual_seed(5);
  const double bn = 1 / std::sqrt(1 + 1e-5);  // a fresh BatchNorm in eval mode
  ConvBlock down(32, 24, 4, 1, 0);             // (B, 32, 4, 4) -> (B, 24, 1, 1)
  UpBlock up(24, 16, 4, 1, 0, 0);              // (B, 24, 1, 1) -> (B, 16, 4, 4)
  down->eval();
  up->eval();
  auto x = torch::randn({3, 32, 4, 4});
  auto y = down->forward(x);
  auto z = up->forward(y);
  auto dw = down->named_parameters()["conv.weight"], db = down->named_parameters()["conv.bias"];
  auto uw = up->named_parameters()["conv.weight"], ub = up->named_parameters()["conv.bias"];
  auto rdw = dw.detach().clone().requires_grad_(), ruw = uw.detach().clone().requires_grad_();
  auto ry = torch::relu(torch::conv2d(x, rdw, db.detach()) * bn);
  auto rz = torch::relu(torch::conv_transpose2d(ry, ruw, ub.detach()) * bn);
  EXPECT_EQ(y.sizes(), ry.sizes());
  EXPECT_EQ(z.sizes(), rz.sizes());
  EXPECT_LT((y - ry).abs().max().item<double>(), 1e-5);
  EXPECT_LT((z - rz).abs().max().item<double>(), 1e-5);
  z.pow(2).sum().backward();
  rz.pow(2).sum().backward();
  EXPECT_LT((dw.grad() - rdw.grad()).abs().max().item<double>(), 1e-4 * rdw.grad().abs().max().item<double>());
  EXPECT_LT((uw.grad() - ruw.grad()).abs().max().item<double>(), 1e-4 * ruw.grad().abs().max().item<double>());
}

// In bfloat16 the stride-2 transposed convolution runs as a 2x2 convolution
// over four output phases and a pixel shuffle; against LibTorch's float
// transposed convolution of the same bf16-rounded input and weights it may
// differ only by bfloat16 rounding (a wrong phase would be off by O(1)).
TEST(Model, Bfloat16TransposedConvolutionByPhasesMatchesTheConvolution) {
  torch::manual_seed(6);
  UpBlock up(12, 8, 3, 2, 1, 1);  // (B, 12, 5, 7) -> (B, 8, 10, 14)
  up->eval();
  fold_for_inference(*up);
  auto x = torch::randn({2, 12, 5, 7}).to(torch::kBFloat16).to(torch::kFloat32);
  auto w = up->named_parameters()["conv.weight"].detach().to(torch::kBFloat16);
  auto b = up->named_parameters()["conv.bias"].detach().to(torch::kBFloat16);
  auto reference = torch::relu(torch::conv_transpose2d(x, w.to(torch::kFloat32), b.to(torch::kFloat32), 2, 1, 1));
  torch::NoGradGuard ng;
  prepare_inference(*up, Precision::bf16);
  auto y = up->forward(x.to(torch::kBFloat16));
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  ASSERT_EQ(y.sizes(), reference.sizes());
  const double scale = reference.abs().max().item<double>();
  EXPECT_GT(scale, 0.5);
  EXPECT_LT((y.to(torch::kFloat32) - reference).abs().max().item<double>(), 0.02 * scale);
}

// The bundled model in bfloat16 (generate's --precision bf16): float in,
// float out, and the faces it draws within a few grey levels of float32's.
TEST(Model, Bfloat16InferenceStaysCloseToFloat) {
  torch::manual_seed(7);
  SyncTalkFace fp32 = load_generator(default_model_path()), bf16 = load_generator(default_model_path());
  prepare_inference(*fp32, Precision::fp32);
  prepare_inference(*bf16, Precision::bf16);
  const int64_t S = fp32->config().image_size;
  torch::NoGradGuard ng;
  auto mel = torch::randn({4, 1, 80, 16}) * 2 - 4;
  auto face = torch::rand({4, 3, 1, 1}) * 0.5 + 0.3 + torch::rand({4, 3, S, S}) * 0.1;  // skin-like flat faces
  auto id = fp32->inference_identity(face, face);
  auto a = fp32->forward(mel, id), b = bf16->forward(mel, id);
  EXPECT_EQ(b.scalar_type(), torch::kFloat32);
  ASSERT_EQ(a.sizes(), b.sizes());
  const double mean = (a - b).abs().mean().item<double>(), max = (a - b).abs().max().item<double>();
  EXPECT_LT(mean, 2.0 / 255) << "max " << max;
  EXPECT_LT(max, 0.1);
  EXPECT_GT(mean, 0);  // it did run in another format
  EXPECT_EQ(parse_precision("fp32"), Precision::fp32);
  EXPECT_EQ(parse_precision("auto"), cpu_has_fast_bf16() ? Precision::bf16 : Precision::fp32);
  EXPECT_THROW(parse_precision("fp16"), Error);
}

// Folding BatchNorm and the residual additions into the convolutions
// changes no output: checked on a generator with residual blocks whose
// BatchNorm layers hold non-trivial statistics and affines, and on one
// residual block against its formula relu(bn(conv(x)) + x).
TEST(Model, ChunkedInferenceMatchesFrameByFrame) {
  // ~10 MB chunks of equal size, the whole batch when it fits
  EXPECT_EQ(stf::inference_chunk(16, 80 * 128 * 128 * 4), 2);  // paper decoder, float32: 80 MB in 8 chunks
  EXPECT_EQ(stf::inference_chunk(11, 16 * 128 * 128 * 4), 6);  // 11 MB: two chunks, 6 + 5
  EXPECT_EQ(stf::inference_chunk(16, 100000), 16);
  EXPECT_EQ(stf::inference_chunk(1, 100 << 20), 1);
  // The paper model at batch 11 runs its high-resolution levels in chunks
  // (encoder 6 + 5 frames; decoder level 4 6 + 5, level 5 3 + 3 and 3 + 2,
  // level 6 2 + 1 and 2); one frame alone runs unchunked.
  torch::manual_seed(5);
  ModelConfig c = ModelConfig::preset("paper");
  SyncTalkFace g(c);
  g->eval();
  torch::NoGradGuard ng;
  const int64_t B = 11, S = c.image_size;
  auto mel = torch::randn({B, 1, 80, 16});
  auto id = torch::rand({B, 6, S, S});
  auto all = g->forward(mel, id);
  ASSERT_EQ(all.sizes(), torch::IntArrayRef({B, 3, S, S}));
  for (int64_t i = 0; i < B; ++i) {
    auto one = g->forward(mel.narrow(0, i, 1), id.narrow(0, i, 1));
    EXPECT_LT((all.narrow(0, i, 1) - one).abs().max().item<double>(), 1e-4) << "frame " << i;
  }
  // Prepared for float32 inference as generate runs it: BatchNorm folded,
  // transposed convolutions by phases, channels-last weights, and the 4x4
  // level in plain layout.
  stf::prepare_inference(*g, stf::Precision::fp32);
  EXPECT_LT((g->forward(mel, id) - all).abs().max().item<double>(), 1e-4);
}

TEST(Model, FoldingForInferenceKeepsTheOutput) {
  torch::manual_seed(11);
  ModelConfig c = ModelConfig::preset("lite");
  c.residual_blocks = 1;
  SyncTalkFace g(c);
  const int64_t S = c.image_size;
  {
    torch::NoGradGuard ng;
    for (auto& p : g->named_parameters())
      if (p.key().find("bn.") != std::string::npos) p.value().uniform_(0.5, 1.5);
    g->train();  // running statistics of real activations
    for (int i = 0; i < 3; ++i) g->forward(torch::randn({4, 1, 80, 16}), torch::rand({4, 6, S, S}));
  }
  g->eval();
  torch::NoGradGuard ng;
  auto mel = torch::randn({3, 1, 80, 16});
  auto id = torch::rand({3, 6, S, S});
  auto before = g->forward(mel, id);
  stf::fold_for_inference(*g);
  auto after = g->forward(mel, id);
  EXPECT_LT((before - after).abs().max().item<double>(), 1e-4);
  stf::fold_for_inference(*g);  // a second fold changes nothing
  EXPECT_LT((before - g->forward(mel, id)).abs().max().item<double>(), 1e-4);
  int folded = 0;
  for (auto& b : g->named_buffers())
    if (b.key().find(".bn.running_mean") != std::string::npos) {
      EXPECT_EQ(b.value().abs().max().item<double>(), 0) << b.key();
      ++folded;
    }
  EXPECT_GT(folded, 10);

  ConvBlock block(5, 5, 3, 1, 1, /*residual=*/true);
  for (auto& p : block->named_parameters()) p.value().uniform_(-0.5, 0.5);
  block->named_buffers()["bn.running_mean"].uniform_(-0.2, 0.2);
  block->named_buffers()["bn.running_var"].uniform_(0.5, 1.5);
  block->eval();
  auto x = torch::randn({2, 5, 6, 7});
  auto p = block->named_parameters();
  auto b = block->named_buffers();
  auto bn = (torch::conv2d(x, p["conv.weight"], p["conv.bias"], 1, 1) - b["bn.running_mean"].view({1, -1, 1, 1})) /
                torch::sqrt(b["bn.running_var"].view({1, -1, 1, 1}) + 1e-5) * p["bn.weight"].view({1, -1, 1, 1}) +
            p["bn.bias"].view({1, -1, 1, 1});
  auto expected = torch::relu(bn + x);
  EXPECT_LT((block->forward(x) - expected).abs().max().item<double>(), 1e-5);
  stf::fold_for_inference(*block);
  EXPECT_LT((block->forward(x) - expected).abs().max().item<double>(), 1e-5);
}
