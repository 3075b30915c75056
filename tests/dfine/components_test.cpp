// D-FINE building blocks against their definitions: anchors (against the buffers the official
// model stored in the fixture checkpoints), the FDR weighting function, integral, distance2bbox,
// the 2D sin-cos embedding, the post-processor's index arithmetic, and the MLP on the fused ops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "io/checkpoint.h"
#include "models/dfine/box_refine.h"
#include "models/dfine/decoder.h"
#include "models/dfine/hybrid_encoder.h"
#include "models/dfine/layers.h"
#include "models/dfine/postprocess.h"
#include "test_support.h"

namespace um::dfine {
namespace {

TEST(DFineAnchors, MatchTheOfficialBuffersAt640) {
  const std::filesystem::path path = um::test::fixtures_dir() / "dfine_s" / "checkpoint.pth";
  UM_REQUIRE_FIXTURE(path);
  auto ck = io::load_checkpoint(path.string());
  ASSERT_TRUE(ck.ok()) << ck.status().to_string();
  const Tensor want = ck->tensors.at("decoder.anchors").to(DType::kF32);
  const Tensor want_valid = ck->tensors.at("decoder.valid_mask").to(DType::kF32);
  auto [anchors, valid] = generate_anchors({{80, 80}, {40, 40}, {20, 20}});
  ASSERT_EQ(anchors.shape(), want.shape());
  int64_t invalid = 0;
  for (int64_t i = 0; i < anchors.numel(); ++i) {
    const float a = anchors.data<float>()[i], b = want.data<float>()[i];
    if (std::isinf(b)) {
      EXPECT_TRUE(std::isinf(a) && a > 0) << i;
    } else {
      EXPECT_NEAR(a, b, 1e-5f) << i;
    }
  }
  for (int64_t i = 0; i < valid.numel(); ++i) {
    EXPECT_EQ(valid.data<float>()[i], want_valid.data<float>()[i]) << i;
    invalid += valid.data<float>()[i] == 0.f;
  }
  EXPECT_GT(invalid, 0);
}

TEST(DFineBoxRefine, WeightingFunctionShape) {
  const std::vector<float> w = weighting_function(32, 0.5f, 4.f);
  ASSERT_EQ(w.size(), 33u);
  EXPECT_FLOAT_EQ(w[0], -4.f);
  EXPECT_FLOAT_EQ(w[16], 0.f);
  EXPECT_FLOAT_EQ(w[32], 4.f);
  // step = 3^(1/15): w[17] = step - 1, w[31] = step^15 - 1 = 2, antisymmetric, increasing.
  EXPECT_NEAR(w[17], std::pow(3.0, 1.0 / 15) - 1, 1e-6);
  EXPECT_NEAR(w[31], 2.0, 1e-5);
  for (int i = 0; i < 33; ++i) EXPECT_NEAR(w[i], -w[32 - i], 1e-6);
  for (int i = 1; i < 33; ++i) EXPECT_GT(w[i], w[i - 1]);
}

TEST(DFineBoxRefine, IntegralAndDistanceToBox) {
  const std::vector<float> w = weighting_function(32, 0.5f, 4.f);
  // A distribution peaked hard on bin 16 (value 0) integrates to ~0; uniform logits give the mean.
  Tensor corners = Tensor::zeros({1, 2, 4 * 33});
  for (int e = 0; e < 4; ++e) corners.data<float>()[e * 33 + 16] = 60.f;
  const Tensor d = integral(corners, w);
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(d.data<float>()[e], 0.f, 1e-6);
  double mean = 0;
  for (float v : w) mean += v / 33.0;
  EXPECT_NEAR(d.data<float>()[4], mean, 1e-6);
  // Zero distances keep the reference box (x1 = cx - 0.5*rs*w/rs = cx - w/2).
  const Tensor ref = Tensor::from_vector({0.5f, 0.4f, 0.2f, 0.1f}, {1, 1, 4});
  const Tensor same = distance2bbox(ref, Tensor::zeros({1, 1, 4}), 4.f);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(same.data<float>()[k], ref.data<float>()[k], 1e-7);
  // Left edge moved out by 1 unit of w/rs: x1 = 0.5 - (2 + 1) * 0.05 = 0.35, x2 = 0.6.
  const Tensor moved = distance2bbox(ref, Tensor::from_vector({1.f, 0.f, 0.f, 0.f}, {1, 1, 4}), 4.f);
  EXPECT_NEAR(moved.data<float>()[0], (0.35f + 0.6f) / 2.f, 1e-6);
  EXPECT_NEAR(moved.data<float>()[2], 0.25f, 1e-6);
}

TEST(DFineEncoder, SinCosEmbeddingFollowsTheOfficialMeshgrid) {
  // build_2d_sincos_position_embedding(w=3, h=2, dim=8): token k has (k / h, k % h).
  const Tensor pe = sincos_position_embedding_2d(3, 2, 8, 10000.f);
  ASSERT_EQ(pe.shape(), (Shape{1, 6, 8}));
  for (int k = 0; k < 6; ++k) {
    const double gw = k / 2, gh = k % 2;
    for (int i = 0; i < 2; ++i) {
      const double omega = 1.0 / std::pow(10000.0, i / 2.0);
      const float* row = pe.data<float>() + k * 8;
      EXPECT_NEAR(row[i], std::sin(gw * omega), 1e-6);
      EXPECT_NEAR(row[2 + i], std::cos(gw * omega), 1e-6);
      EXPECT_NEAR(row[4 + i], std::sin(gh * omega), 1e-6);
      EXPECT_NEAR(row[6 + i], std::cos(gh * omega), 1e-6);
    }
  }
}

TEST(DFinePostprocess, FlatIndexGivesQueryAndLabel) {
  // 3 queries x 2 classes; the best score is query 2, class 1 (flat index 5).
  const Tensor logits = Tensor::from_vector({0.f, -1.f, 1.f, -2.f, 0.5f, 3.f}, {1, 3, 2});
  const Tensor boxes = Tensor::from_vector({0.5f, 0.5f, 0.2f, 0.2f, 0.1f, 0.1f, 0.1f, 0.1f,
                                            0.9f, 0.5f, 0.4f, 0.2f}, {1, 3, 4});
  Geometry g;
  g.frame_width = 200;
  g.frame_height = 100;
  const Detections d = postprocess(logits, boxes, g, 4);
  ASSERT_EQ(d.items.size(), 4u);
  EXPECT_EQ(d.items[0].query, 2);
  EXPECT_EQ(d.items[0].label, 1);
  EXPECT_NEAR(d.items[0].score, 1.f / (1.f + std::exp(-3.f)), 1e-6);
  EXPECT_NEAR(d.items[0].box[0], (0.9f - 0.2f) * 200.f, 1e-4);
  EXPECT_NEAR(d.items[0].box[2], (0.9f + 0.2f) * 200.f, 1e-4);  // not clipped (official)
  EXPECT_EQ(d.items[1].query, 1);
  EXPECT_EQ(d.items[1].label, 0);
  const TopBox t = top1(d, g);
  ASSERT_TRUE(t.found);
  EXPECT_FLOAT_EQ(t.box[2], 200.f);  // clamped to the frame
  EXPECT_EQ(d.labels.dtype(), DType::kI64);
  EXPECT_EQ(d.boxes.shape(), (Shape{4, 4}));
}

// The MLP as the decoder runs it since the fused ops: hidden layers through nn::linear_act and
// the residual taken by the last GEMM must be, on the CPU, bit for bit the original sequence
// (linear, ReLU in place, ..., then add(y, residual)), with and without the residual.
TEST(DFineLayers, MlpWithResidualIsTheUnfusedSequence) {
  auto rnd = [](const Shape& s, uint32_t seed) {
    Tensor t = Tensor::empty(s);
    uint32_t x = seed;
    for (int64_t i = 0; i < t.numel(); ++i) {
      x = x * 1664525u + 1013904223u;
      t.data<float>()[i] = static_cast<float>(x >> 8) / static_cast<float>(1u << 24) - 0.5f;
    }
    return t;
  };
  Mlp m;
  const int64_t dims[4] = {8, 16, 16, 12};
  for (int i = 0; i < 3; ++i) {
    m.layers.push_back({rnd({dims[i + 1], dims[i]}, 10 + i), rnd({dims[i + 1]}, 20 + i)});
  }
  const Tensor x = rnd({2, 5, 8}, 1), r = rnd({2, 5, 12}, 2);
  Tensor want = x;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    want = nn::linear(want, m.layers[i].weight, m.layers[i].bias);
    if (i + 1 < m.layers.size()) apply_activation_inplace(want, Act::kReLU);
  }
  auto same = [](const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return false;
    const Tensor ac = a.contiguous(), bc = b.contiguous();
    return std::memcmp(ac.data<float>(), bc.data<float>(), ac.nbytes()) == 0;
  };
  EXPECT_TRUE(same(m(x), want));
  EXPECT_TRUE(same(m(x, Tensor()), want));
  EXPECT_TRUE(same(m(x, r), nn::add(want, r)));
  EXPECT_FALSE(same(m(x, r), want));
}

}  // namespace
}  // namespace um::dfine
