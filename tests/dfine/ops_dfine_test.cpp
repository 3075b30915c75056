// The CPU references of D-FINE's ops (nn/ops_dfine.h) against independent formulations: the
// deformable sampling against PyTorch's grid_sample formulation (per level, per head), the FDR
// statistics against a full sort, the top-1 read-out against postprocess() + top1(), the tensor
// preprocessing against preprocess(io::Image), plus the float16-on-CPU refusal.
#include "nn/ops_dfine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "models/dfine/dfine.h"
#include "nn/ops.h"

namespace um::dfine {
namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

float max_diff(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  if (a.shape() != b.shape()) return INFINITY;
  float m = 0.f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float d = std::fabs(a.data<float>()[i] - b.data<float>()[i]);
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

// PyTorch's formulation of the sampling: per level and head, grid_sample of the [hd, H, W] value
// map at grid = 2 * loc - 1, weighted by the softmax over all points of all levels.
Tensor deformable_reference(const Tensor& memory, const Tensor& ref, const Tensor& off,
                            const Tensor& attn, const nn::MsDeformParams& p) {
  const int64_t b = memory.size(0), e = memory.size(2), q = ref.size(1), heads = p.heads;
  const int64_t hd = e / heads, total = static_cast<int64_t>(p.point_scale.size());
  Tensor out = Tensor::zeros({b, q, e});
  const Tensor w = nn::softmax(attn.view({b, q, heads, total}), -1);
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t h = 0; h < heads; ++h) {
      int64_t start = 0, pt0 = 0;
      for (size_t l = 0; l < p.level_shapes.size(); ++l) {
        const int64_t lh = p.level_shapes[l].first, lw = p.level_shapes[l].second, np = p.points[l];
        const Tensor value = memory.select(0, bi)
                                 .slice(0, start, start + lh * lw)
                                 .slice(1, h * hd, (h + 1) * hd)
                                 .transpose(0, 1)
                                 .contiguous()
                                 .view({1, hd, lh, lw});
        Tensor grid = Tensor::empty({1, q, np, 2});
        for (int64_t qi = 0; qi < q; ++qi) {
          const float* r = ref.data<float>() + (bi * q + qi) * 4;
          for (int64_t k = 0; k < np; ++k) {
            const float* o =
                off.data<float>() + ((bi * q + qi) * heads + h) * total * 2 + (pt0 + k) * 2;
            const float s = p.point_scale[pt0 + k];
            grid.data<float>()[(qi * np + k) * 2] = 2.f * (r[0] + o[0] * s * r[2] * 0.5f) - 1.f;
            grid.data<float>()[(qi * np + k) * 2 + 1] = 2.f * (r[1] + o[1] * s * r[3] * 0.5f) - 1.f;
          }
        }
        const Tensor sampled =
            nn::grid_sample_bilinear(value, grid).contiguous();  // [1, hd, q, np]
        for (int64_t qi = 0; qi < q; ++qi)
          for (int64_t k = 0; k < np; ++k) {
            const float a = w.data<float>()[((bi * q + qi) * heads + h) * total + pt0 + k];
            for (int64_t c = 0; c < hd; ++c)
              out.data<float>()[(bi * q + qi) * e + h * hd + c] +=
                  a * sampled.data<float>()[(c * q + qi) * np + k];
          }
        start += lh * lw;
        pt0 += np;
      }
    }
  }
  return out;
}

nn::MsDeformParams small_params() {
  nn::MsDeformParams p;
  p.level_shapes = {{6, 5}, {3, 4}, {2, 2}};
  p.points = {3, 2, 1};
  p.point_scale = {1.f / 3, 1.f / 3, 1.f / 3, 0.5f, 0.5f, 1.f};
  p.heads = 2;
  return p;
}

TEST(DFineOps, DeformableSampleMatchesGridSampleFormulation) {
  const nn::MsDeformParams p = small_params();
  const int64_t b = 2, q = 7, e = 8, len = 30 + 12 + 4, total = 6;
  const Tensor memory = random_tensor({b, len, e}, 1);
  // Boxes partly outside the map so that zero padding matters; offsets up to +-3 box half-widths.
  const Tensor ref = random_tensor({b, q, 4}, 2, -0.1f, 1.1f);
  const Tensor off = random_tensor({b, q, p.heads * total * 2}, 3, -3.f, 3.f);
  const Tensor attn = random_tensor({b, q, p.heads * total}, 4, -2.f, 2.f);
  const Tensor got = nn::ms_deformable_sample(memory, ref, off, attn, p);
  const Tensor want = deformable_reference(memory, ref, off, attn, p);
  EXPECT_LE(max_diff(got, want), 1e-5f);
  // A strided memory (a transposed view) gives the same result.
  const Tensor mt = memory.transpose(1, 2).contiguous().transpose(1, 2);
  EXPECT_EQ(max_diff(nn::ms_deformable_sample(mt, ref, off, attn, p), got), 0.f);
}

TEST(DFineOps, DeformableSampleRefusesBadArguments) {
  const nn::MsDeformParams p = small_params();
  const Tensor memory = random_tensor({1, 46, 8}, 1), ref = random_tensor({1, 3, 4}, 2);
  const Tensor off = random_tensor({1, 3, 24}, 3), attn = random_tensor({1, 3, 12}, 4);
  EXPECT_THROW(nn::ms_deformable_sample(random_tensor({1, 45, 8}, 1), ref, off, attn, p), Error);
  EXPECT_THROW(nn::ms_deformable_sample(memory, ref, random_tensor({1, 3, 23}, 3), attn, p), Error);
  EXPECT_THROW(nn::ms_deformable_sample(memory, ref.to(DType::kF16), off, attn, p), Error);
  nn::MsDeformParams bad = p;
  bad.heads = 3;
  EXPECT_THROW(nn::ms_deformable_sample(memory, ref, off, attn, bad), Error);
}

TEST(DFineOps, ActAffineClampAmaxPadAndU8) {
  const Tensor x = random_tensor({3, 50}, 5, -4.f, 4.f);
  for (auto act : {nn::ActKind::kReLU, nn::ActKind::kSiLU, nn::ActKind::kGELU}) {
    Tensor y = x.clone();
    nn::act_affine_inplace(y, act, true, 1.5f, -0.25f);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double v = x.data<float>()[i];
      const double a = act == nn::ActKind::kReLU   ? std::max(v, 0.0)
                       : act == nn::ActKind::kSiLU ? v / (1 + std::exp(-v))
                                                   : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      EXPECT_NEAR(y.data<float>()[i], 1.5 * a - 0.25, 1e-5) << i;
    }
  }
  const Tensor c = nn::clamp(x, -1.f, 2.f);
  const Tensor m = nn::amax_last(x);
  ASSERT_EQ(m.shape(), (Shape{3}));
  for (int64_t r = 0; r < 3; ++r) {
    float want = -INFINITY;
    for (int64_t k = 0; k < 50; ++k) {
      const float v = x.data<float>()[r * 50 + k];
      want = std::max(want, v);
      EXPECT_EQ(c.data<float>()[r * 50 + k], std::min(std::max(v, -1.f), 2.f));
    }
    EXPECT_EQ(m.data<float>()[r], want);
  }
  const Tensor img = random_tensor({1, 2, 3, 4}, 6);
  const Tensor pad = nn::pad2d(img, 1, 2, 0, 3, 0.5f);
  ASSERT_EQ(pad.shape(), (Shape{1, 2, 6, 7}));
  for (int64_t ch = 0; ch < 2; ++ch)
    for (int64_t y = 0; y < 6; ++y)
      for (int64_t xx = 0; xx < 7; ++xx) {
        const bool inside = y < 3 && xx >= 1 && xx < 5;
        const float want = inside ? img.data<float>()[(ch * 3 + y) * 4 + xx - 1] : 0.5f;
        EXPECT_EQ(pad.data<float>()[(ch * 6 + y) * 7 + xx], want);
      }
  Tensor u8 = Tensor::empty({2, 3}, DType::kU8);
  for (int i = 0; i < 6; ++i) u8.data<uint8_t>()[i] = static_cast<uint8_t>(i * 51);
  const Tensor f = nn::u8_to_float(u8, 255.f);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f.data<float>()[i], static_cast<float>(i * 51) / 255.f);
  EXPECT_THROW(nn::u8_to_float(x, 255.f), Error);
}

TEST(DFineOps, TopkStatsMatchAFullSort) {
  const int64_t bins = 33;
  const Tensor corners = random_tensor({1, 5, 4 * bins}, 7, -3.f, 3.f);
  const Tensor s = nn::distribution_topk_stats(corners, bins, 4);
  ASSERT_EQ(s.shape(), (Shape{1, 5, 20}));
  for (int64_t r = 0; r < 20; ++r) {
    std::vector<double> p(bins);
    double sum = 0;
    for (int64_t i = 0; i < bins; ++i)
      sum += (p[i] = std::exp(corners.data<float>()[r * bins + i]));
    for (double& v : p) v /= sum;
    std::sort(p.begin(), p.end(), std::greater<double>());
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(s.data<float>()[r * 5 + k], p[k], 1e-6);
    EXPECT_NEAR(s.data<float>()[r * 5 + 4], (p[0] + p[1] + p[2] + p[3]) / 4, 1e-6);
  }
}

// detection_top1 is postprocess() + top1() in one op: compare on random outputs, both modes.
TEST(DFineOps, DetectionTop1MatchesPostprocess) {
  for (ResizeMode mode : {ResizeMode::kStretch, ResizeMode::kLetterbox}) {
    Options opt;
    opt.resize = mode;
    const Geometry g = make_geometry(422, 558, opt);
    Tensor logits = random_tensor({1, 300, 3}, 8, -6.f, 3.f);
    logits.data<float>()[250 * 3 + 1] = 4.f;  // a tie at the top: the lower index must win
    logits.data<float>()[40 * 3 + 2] = 4.f;
    Tensor boxes = random_tensor({1, 300, 4}, 9, 0.f, 1.f);
    const Detections d = postprocess(logits, boxes, g);
    const TopBox want = top1(d, g);
    nn::BoxMapping m;
    m.norm_w = static_cast<float>(mode == ResizeMode::kLetterbox ? g.input_width : g.frame_width);
    m.norm_h = static_cast<float>(mode == ResizeMode::kLetterbox ? g.input_height : g.frame_height);
    m.letterbox = mode == ResizeMode::kLetterbox;
    m.pad_x = g.pad_x;
    m.pad_y = g.pad_y;
    m.scale = g.scale;
    m.frame_w = 422.f;
    m.frame_h = 558.f;
    const Tensor got = nn::detection_top1(logits, boxes, m);
    EXPECT_EQ(got.data<float>()[0], want.score);
    EXPECT_EQ(got.data<float>()[1], static_cast<float>(want.label));
    EXPECT_EQ(d.items.front().query, 40);
    for (int k = 0; k < 4; ++k) EXPECT_EQ(got.data<float>()[2 + k], want.box[k]) << k;
  }
}

// The tensor preprocessing (the GPU frame path's, run here on the CPU) equals preprocess().
TEST(DFineOps, GrayTensorPreprocessMatchesImagePreprocess) {
  io::Image img;
  img.width = 131;
  img.height = 97;
  img.channels = 1;
  img.pixels.resize(131 * 97);
  for (size_t i = 0; i < img.pixels.size(); ++i)
    img.pixels[i] = static_cast<uint8_t>((i * 37 + i / 131) % 256);
  Tensor u8 = Tensor::empty({97, 131}, DType::kU8);
  std::copy(img.pixels.begin(), img.pixels.end(), u8.data<uint8_t>());
  for (ResizeMode mode : {ResizeMode::kStretch, ResizeMode::kLetterbox}) {
    for (int channels : {1, 3}) {
      Options opt;
      opt.resize = mode;
      opt.letterbox_fill = 0.25f;
      const Preprocessed want = preprocess(img, channels, opt);
      const Tensor got = preprocess_gray_tensor(u8, channels, opt, DType::kF32);
      EXPECT_EQ(max_diff(got, want.input), 0.f) << static_cast<int>(mode) << " " << channels;
      const Geometry g = make_geometry(131, 97, opt);
      EXPECT_EQ(g.scale, want.geometry.scale);
      EXPECT_EQ(g.pad_x, want.geometry.pad_x);
      EXPECT_EQ(g.pad_y, want.geometry.pad_y);
    }
  }
}

TEST(DFineOps, Float16OnCpuIsRefused) {
  io::TensorMap sd;
  sd["backbone.stem.stem1.conv.weight"] = Tensor::zeros({16, 3, 3, 3});
  Options opt;
  opt.dtype = DType::kF16;
  auto m = DFine::from_tensors(sd, opt);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("float16 runs on CUDA only"), std::string::npos)
      << m.status().to_string();
}

}  // namespace
}  // namespace um::dfine
