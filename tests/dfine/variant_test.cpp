// D-FINE variants without fixtures: a D-FINE-M layout with 3 classes and a mono-stem small model,
// both written by the test as safetensors with random weights, load, are auto-detected and run;
// letterbox mode maps boxes back to the frame; a batch of two frames agrees with each frame alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "io/safetensors.h"
#include "models/dfine/dfine.h"
#include "diff_and_scale.h"
#include "synthetic_checkpoint.h"

namespace um::dfine {
namespace {

std::string write_temp(const io::TensorMap& sd, const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".safetensors");
  const Status s = io::write_safetensors(path.string(), sd);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return path.string();
}

io::Image gradient_frame(int w, int h, int channels) {
  io::Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.resize(static_cast<size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        img.pixels[(static_cast<size_t>(y) * w + x) * channels + c] =
            static_cast<uint8_t>((x * 7 + y * 3 + ((x / 16 + y / 16) % 2) * 90) % 256);
  return img;
}

bool all_finite(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.data<float>()[i])) return false;
  return true;
}

TEST(DFineVariant, MediumWithThreeClassesIsDetectedAndRuns) {
  const std::string path = write_temp(test::make_dfine_state_dict(test::medium_spec(3)), "dfine_m3");
  Options opt;
  opt.input_height = opt.input_width = 320;  // any multiple of 32: anchors are regenerated
  auto model = DFine::load(path, opt);
  std::filesystem::remove(path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const Config& c = (*model)->config();
  EXPECT_EQ(c.variant, Variant::kM) << c.summary();
  EXPECT_EQ(c.backbone, "B2");
  EXPECT_EQ(c.num_classes, 3);
  EXPECT_EQ(c.decoder_layers, 4);
  EXPECT_EQ(c.encoder_depth, 2);
  EXPECT_EQ(c.return_idx, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(c.feat_strides, (std::vector<int>{8, 16, 32}));
  EXPECT_EQ(c.num_points, (std::vector<int>{3, 6, 3}));
  EXPECT_EQ(c.decoder_heads, 8);

  const io::Image frame = gradient_frame(300, 200, 1);
  const Preprocessed p = (*model)->preprocess(frame);
  EXPECT_EQ(p.input.shape(), (Shape{1, 3, 320, 320}));
  const ForwardOutput out = (*model)->forward(p.input, true);
  EXPECT_EQ(out.pred_logits.shape(), (Shape{1, 300, 3}));
  EXPECT_EQ(out.pred_boxes.shape(), (Shape{1, 300, 4}));
  EXPECT_EQ(out.intermediates.at("encoder.0").shape(), (Shape{1, 256, 40, 40}));
  EXPECT_TRUE(all_finite(out.pred_logits));
  EXPECT_TRUE(all_finite(out.pred_boxes));
  const Detections d = postprocess(out.pred_logits, out.pred_boxes, p.geometry);
  ASSERT_EQ(d.items.size(), 300u);
  for (size_t i = 1; i < d.items.size(); ++i) EXPECT_GE(d.items[i - 1].score, d.items[i].score);
  for (const auto& it : d.items) {
    EXPECT_GE(it.label, 0);
    EXPECT_LT(it.label, 3);
  }
}

TEST(DFineVariant, MonoStemAndLetterboxGeometry) {
  const std::string path = write_temp(test::make_dfine_state_dict(test::small_spec(2, /*in=*/1)), "dfine_mono");
  Options opt;
  opt.input_height = 256;
  opt.input_width = 320;
  opt.resize = ResizeMode::kLetterbox;
  auto model = DFine::load(path, opt);
  std::filesystem::remove(path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ((*model)->config().input_channels, 1);
  EXPECT_EQ((*model)->config().variant, Variant::kCustom);  // B0 with a 64-wide encoder
  EXPECT_EQ((*model)->config().num_classes, 2);
  const io::Image frame = gradient_frame(200, 400, 3);  // RGB frame on a mono stem -> luma
  const Preprocessed p = (*model)->preprocess(frame);
  EXPECT_EQ(p.input.shape(), (Shape{1, 1, 256, 320}));
  // Letterbox: scale min(320/200, 256/400) = 0.64 -> 128x256 centred at x = 96.
  EXPECT_FLOAT_EQ(p.geometry.scale, 0.64f);
  EXPECT_FLOAT_EQ(p.geometry.pad_x, 96.f);
  EXPECT_FLOAT_EQ(p.geometry.pad_y, 0.f);
  EXPECT_EQ(p.input.data<float>()[0], 0.f);  // border
  const Detections d = (*model)->detect(frame);
  ASSERT_EQ(d.items.size(), 300u);
  // A box covering the letterboxed content maps back to the whole frame.
  Tensor logits = Tensor::zeros({1, 300, 2});
  Tensor boxes = Tensor::zeros({1, 300, 4});
  const float cx = 160.f / 320.f, cy = 0.5f, w = 128.f / 320.f, h = 1.f;
  boxes.data<float>()[0] = cx;
  boxes.data<float>()[1] = cy;
  boxes.data<float>()[2] = w;
  boxes.data<float>()[3] = h;
  logits.data<float>()[0] = 5.f;
  const Detections mapped = postprocess(logits, boxes, p.geometry);
  EXPECT_NEAR(mapped.items[0].box[0], 0.f, 1e-3);
  EXPECT_NEAR(mapped.items[0].box[1], 0.f, 1e-3);
  EXPECT_NEAR(mapped.items[0].box[2], 200.f, 1e-3);
  EXPECT_NEAR(mapped.items[0].box[3], 400.f, 1e-3);
}

TEST(DFineVariant, GrayInputOnRgbStemEqualsReplicatedGray) {
  const io::TensorMap sd = test::make_dfine_state_dict(test::small_spec(1));
  Options opt;
  opt.input_height = opt.input_width = 256;
  auto model = DFine::from_tensors(sd, opt);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  Tensor gray = Tensor::empty({1, 1, 256, 256});
  for (int64_t i = 0; i < gray.numel(); ++i) gray.data<float>()[i] = static_cast<float>((i * 37) % 101) / 100.f;
  const Tensor rgb = nn::concat({gray, gray, gray}, 1);
  const ForwardOutput a = (*model)->forward(gray, true), b = (*model)->forward(rgb, true);
  const auto [m, s] =
      test::diff_and_scale(a.intermediates.at("backbone.0"), b.intermediates.at("backbone.0"));
  EXPECT_LE(m, 1e-4f * std::max(s, 1.f));
}

// A batch of two frames gives each frame's backbone and encoder outputs alone (the HG blocks'
// and the encoder's concats included), to float rounding: batched GEMMs may sum in another
// order (measured here: 0 for the backbone, < 1e-7 for the encoder). The decoder's outputs are
// not compared: with random weights many query scores nearly tie, and a 1e-7 difference picks
// other queries in the top-k.
TEST(DFineVariant, BatchOfTwoEqualsEachFrameAloneThroughTheEncoder) {
  const io::TensorMap sd = test::make_dfine_state_dict(test::small_spec(2));
  Options opt;
  opt.input_height = opt.input_width = 256;
  auto model = DFine::from_tensors(sd, opt);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  Tensor batch = Tensor::empty({2, 3, 256, 256});
  for (int64_t i = 0; i < batch.numel(); ++i)
    batch.data<float>()[i] = static_cast<float>((i * 37 + i / 4099) % 101) / 100.f;
  const ForwardOutput both = (*model)->forward(batch, /*keep_intermediates=*/true);
  int compared = 0;
  for (int64_t n = 0; n < 2; ++n) {
    const ForwardOutput one =
        (*model)->forward(batch.slice(0, n, n + 1).contiguous(), /*keep_intermediates=*/true);
    for (const auto& [name, want] : one.intermediates) {
      if (name.rfind("backbone.", 0) != 0 && name.rfind("encoder.", 0) != 0) continue;
      ASSERT_TRUE(both.intermediates.count(name)) << name;
      const Tensor got = both.intermediates.at(name).slice(0, n, n + 1).contiguous();
      ASSERT_EQ(got.shape(), want.shape()) << name;
      const auto [m, s] = test::diff_and_scale(got, want);
      EXPECT_LE(m, 1e-5f * std::max(s, 1.f)) << name << ", frame " << n;
      ++compared;
    }
  }
  EXPECT_GE(compared, 2 * 4);  // two backbone stages and two encoder levels per frame at least
}

}  // namespace
}  // namespace um::dfine
