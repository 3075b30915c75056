// depthwise_conv2d_nhwc (nn/ops_fused.h) on the CPU: bit-identical to the sequence it replaces
// in TinyViT (channels-last x permuted to NCHW, nn::conv2d, permuted back, made contiguous) and
// close to a naive channels-last loop written here; on TinyViT-like channel counts scaled down,
// odd H/W, stride 2, padding 0/1/2, 5x5, dilation, with and without bias, strided inputs; plus
// every argument check.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::max_abs_diff;
using test::random_tensor;

// Bitwise equality of two float32 tensors of the same shape.
void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(shape_str(got.shape()), shape_str(want.shape())) << what;
  const Tensor a = got.contiguous(), b = want.contiguous();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.data<float>()[i], y = b.data<float>()[i];
    if (std::memcmp(&x, &y, sizeof(float)) != 0) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << what;
}

// The path TinyViT ran: NHWC -> NCHW copy -> conv2d -> NHWC copy.
Tensor old_path(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  const Tensor xn = x.permute({0, 3, 1, 2}).contiguous();
  return conv2d(xn, w, b, p).permute({0, 2, 3, 1}).contiguous();
}

// A naive channels-last depthwise convolution (zero padding), independent of nn::conv2d.
Tensor naive_nhwc(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
                  const Conv2dParams& p) {
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const int64_t n = x.size(0), h = x.size(1), wd = x.size(2), c = x.size(3);
  const int64_t kh = w.size(2), kw = w.size(3);
  const int64_t ho = (h + 2 * p.pad_h - p.dilation_h * (kh - 1) - 1) / p.stride_h + 1;
  const int64_t wo = (wd + 2 * p.pad_w - p.dilation_w * (kw - 1) - 1) / p.stride_w + 1;
  Tensor y = Tensor::zeros({n, ho, wo, c});
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  float* py = y.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        for (int64_t ch = 0; ch < c; ++ch) {
          float acc = 0.f;
          for (int64_t ky = 0; ky < kh; ++ky) {
            const int64_t iy = oy * p.stride_h - p.pad_h + ky * p.dilation_h;
            if (iy < 0 || iy >= h) continue;
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t ix = ox * p.stride_w - p.pad_w + kx * p.dilation_w;
              if (ix < 0 || ix >= wd) continue;
              acc += pw[(ch * kh + ky) * kw + kx] * px[((b * h + iy) * wd + ix) * c + ch];
            }
          }
          if (b_in.defined()) acc += b_in.contiguous().data<float>()[ch];
          py[((b * ho + oy) * wo + ox) * c + ch] = acc;
        }
      }
    }
  }
  return y;
}

struct Case {
  std::string name;
  Shape x;  // [N, H, W, C]
  int kh, kw;
  Conv2dParams p;  // groups filled in from C
};

std::vector<Case> cases() {
  return {
      {"tinyvit128_like_3x3", {1, 13, 11, 16}, 3, 3, Conv2dParams::square(1, 1)},
      {"tinyvit160_like_batch2", {2, 9, 10, 20}, 3, 3, Conv2dParams::square(1, 1)},
      {"tinyvit320_like_s2", {1, 7, 12, 40}, 3, 3, Conv2dParams::square(2, 1)},
      {"odd_c_pad0", {1, 10, 13, 5}, 3, 3, Conv2dParams::square(1, 0)},
      {"pad2_s2", {1, 8, 9, 3}, 3, 3, Conv2dParams::square(2, 2)},
      {"k5_pad2", {1, 11, 9, 6}, 5, 5, Conv2dParams::square(1, 2)},
      {"k5_s2_pad2", {1, 12, 10, 4}, 5, 5, Conv2dParams::square(2, 2)},
      {"k3x5_rect", {1, 9, 14, 7}, 3, 5, Conv2dParams{1, 2, 1, 2, 1, 1, 1}},
      {"dilation2", {1, 10, 11, 6}, 3, 3, Conv2dParams{1, 1, 2, 2, 2, 2, 1}},
  };
}

TEST(DepthwiseConv2dNhwc, MatchesPermuteConvPermuteExactly) {
  uint32_t seed = 500;
  for (const Case& c : cases()) {
    const int64_t ch = c.x[3];
    Conv2dParams p = c.p;
    p.groups = static_cast<int>(ch);
    const Tensor x = random_tensor(c.x, ++seed, -2.f, 2.f);
    const Tensor w = random_tensor({ch, 1, c.kh, c.kw}, ++seed);
    const Tensor b = random_tensor({ch}, ++seed);
    for (const bool with_bias : {false, true}) {
      const Tensor bias = with_bias ? b : Tensor();
      const std::string what = c.name + (with_bias ? " bias" : " no bias");
      const Tensor y = depthwise_conv2d_nhwc(x, w, bias, p);
      EXPECT_TRUE(y.is_contiguous()) << what;
      expect_identical(y, old_path(x, w, bias, p), what);
      const Tensor ref = naive_nhwc(x, w, bias, p);
      ASSERT_EQ(shape_str(y.shape()), shape_str(ref.shape())) << what;
      EXPECT_LE(max_abs_diff(y, ref), 1e-5f) << what;
    }
  }
}

TEST(DepthwiseConv2dNhwc, ActivationIsConv2dBiasActsSequence) {
  // With an activation the CPU result is conv2d_bias_act's (conv2d, then the activation pass) on
  // the NCHW view, bit for bit: what TinyViT's MBConv/PatchMerging ran before going channels last.
  const Tensor x = random_tensor({1, 9, 11, 16}, 601, -2.f, 2.f);
  const Tensor w = random_tensor({16, 1, 3, 3}, 602), b = random_tensor({16}, 603);
  for (const Conv2dParams& base : {Conv2dParams::square(1, 1), Conv2dParams::square(2, 1)}) {
    Conv2dParams p = base;
    p.groups = 16;
    for (const nn::Activation act : {nn::Activation::kReLU, nn::Activation::kSiLU,
                                     nn::Activation::kGELU}) {
      const std::string what = "stride " + std::to_string(p.stride_h) + " act " +
                               std::to_string(static_cast<int>(act));
      const Tensor want = nn::conv2d_bias_act(x.permute({0, 3, 1, 2}).contiguous(), w, b, p, act)
                              .permute({0, 2, 3, 1})
                              .contiguous();
      expect_identical(depthwise_conv2d_nhwc(x, w, b, p, act), want, what);
    }
  }
  Conv2dParams p = Conv2dParams::square(1, 1);
  p.groups = 16;
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b, p, static_cast<nn::Activation>(99)), Error);
}

TEST(DepthwiseConv2dNhwc, InputActivationIsThePassBeforeTheConv) {
  // in_act: y = act(conv(in_act(x)) + bias), bit for bit the activation pass (nn::relu/silu/gelu)
  // followed by the op: TinyViT's MBConv / PatchMerging order (conv1 -> GELU -> conv2 -> GELU).
  // The padding is zeros of in_act(x) (every in_act maps 0 to 0, and so does the sequence).
  const Tensor x = random_tensor({1, 9, 11, 16}, 611, -3.f, 3.f);
  const Tensor w = random_tensor({16, 1, 3, 3}, 612), b = random_tensor({16}, 613);
  using A = nn::Activation;
  for (const Conv2dParams& base : {Conv2dParams::square(1, 1), Conv2dParams::square(2, 1)}) {
    Conv2dParams p = base;
    p.groups = 16;
    for (const A in_act : {A::kReLU, A::kSiLU, A::kGELU}) {
      const Tensor xa = in_act == A::kReLU ? relu(x) : in_act == A::kSiLU ? silu(x) : gelu(x);
      for (const A act : {A::kNone, A::kGELU}) {
        const std::string what = "stride " + std::to_string(p.stride_h) + " in_act " +
                                 std::to_string(static_cast<int>(in_act)) + " act " +
                                 std::to_string(static_cast<int>(act));
        expect_identical(depthwise_conv2d_nhwc(x, w, b, p, act, in_act),
                         depthwise_conv2d_nhwc(xa, w, b, p, act), what);
      }
    }
  }
  Conv2dParams p = Conv2dParams::square(1, 1);
  p.groups = 16;
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b, p, A::kNone, static_cast<nn::Activation>(99)),
               Error);
}

TEST(DepthwiseConv2dNhwc, TokensViewAndStridedInputs) {
  const int64_t c = 12, h = 9, w = 11;
  const Conv2dParams p = Conv2dParams::square(1, 1, static_cast<int>(c));
  const Tensor wt = random_tensor({c, 1, 3, 3}, 601), b = random_tensor({c}, 602);
  // TinyViT's tokens [B, H*W, C] viewed as [B, H, W, C].
  const Tensor tokens = random_tensor({1, h * w, c}, 603);
  const Tensor xv = tokens.view({1, h, w, c});
  expect_identical(depthwise_conv2d_nhwc(xv, wt, b, p), old_path(xv, wt, b, p), "tokens view");
  // An NCHW tensor permuted to NHWC (channel stride H*W), and a channel slice (offset view).
  const Tensor xp = random_tensor({2, c, h, w}, 604).permute({0, 2, 3, 1});
  const Tensor xs = random_tensor({1, h, w, c + 5}, 605).slice(3, 2, 2 + c);
  for (const Tensor& xi : {xp, xs}) {
    ASSERT_FALSE(xi.is_contiguous());
    const std::string what = "strided " + shape_str(xi.shape());
    const Tensor y = depthwise_conv2d_nhwc(xi, wt, b, p);
    expect_identical(y, old_path(xi.contiguous(), wt, b, p), what);
    EXPECT_LE(max_abs_diff(y, naive_nhwc(xi, wt, b, p)), 1e-5f) << what;
  }
  // A permuted (non-contiguous) weight is accepted too.
  const Tensor wp = random_tensor({3, 3, c, 1}, 606).permute({2, 3, 0, 1});
  expect_identical(depthwise_conv2d_nhwc(xv, wp, Tensor(), p),
                   old_path(xv, wp.contiguous(), Tensor(), p), "permuted weight");
}

TEST(DepthwiseConv2dNhwc, BadArgumentsThrowUmError) {
  const int64_t c = 6;
  const Tensor x = random_tensor({1, 8, 8, c}, 701);
  const Tensor w = random_tensor({c, 1, 3, 3}, 702), b = random_tensor({c}, 703);
  const Conv2dParams p = Conv2dParams::square(1, 1, static_cast<int>(c));
  ASSERT_NO_THROW(depthwise_conv2d_nhwc(x, w, b, p));
  auto with = [&](auto edit) {
    Conv2dParams q = p;
    edit(q);
    return q;
  };
  // Undefined operands and wrong ranks.
  EXPECT_THROW(depthwise_conv2d_nhwc(Tensor(), w, b, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, Tensor(), b, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(random_tensor({8, 8, c}, 704), w, b, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, random_tensor({c, 3, 3}, 705), b, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, random_tensor({1, c}, 706), p), Error);
  // Channel mismatches: weight rows, weight's second dim (not depthwise), bias length, groups.
  EXPECT_THROW(depthwise_conv2d_nhwc(x, random_tensor({c + 1, 1, 3, 3}, 707), b, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, random_tensor({c, 2, 3, 3}, 708), b, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, random_tensor({c - 1}, 709), p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b, Conv2dParams::square(1, 1, 1)), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b, Conv2dParams::square(1, 1, 3)), Error);
  // Kernel, stride, padding, dilation.
  EXPECT_THROW(depthwise_conv2d_nhwc(x, Tensor::empty({c, 1, 0, 3}), b, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b, with([](Conv2dParams& q) { q.stride_h = 0; })),
               Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b, with([](Conv2dParams& q) { q.stride_w = -1; })),
               Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b, with([](Conv2dParams& q) { q.pad_h = -1; })),
               Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b, with([](Conv2dParams& q) { q.dilation_w = 0; })),
               Error);
  // Input smaller than the kernel (no output pixel), also with a stride that would round up.
  EXPECT_THROW(depthwise_conv2d_nhwc(random_tensor({1, 2, 8, c}, 710), w, b,
                                     with([](Conv2dParams& q) { q.pad_h = q.pad_w = 0; })),
               Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(random_tensor({1, 2, 8, c}, 711), w, b,
                                     with([](Conv2dParams& q) {
                                       q.pad_h = q.pad_w = 0;
                                       q.stride_h = 2;
                                     })),
               Error);
  // Dtypes: float16 on the CPU, weight/bias of another dtype than x, an integer x.
  const Tensor x16 = x.to(DType::kF16), w16 = w.to(DType::kF16), b16 = b.to(DType::kF16);
  EXPECT_THROW(depthwise_conv2d_nhwc(x16, w16, b16, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w16, b, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x, w, b16, p), Error);
  EXPECT_THROW(depthwise_conv2d_nhwc(x.to(DType::kI32), w, b, p), Error);
  // The error names the op.
  try {
    depthwise_conv2d_nhwc(x, w, b, Conv2dParams::square(1, 1, 1));
    ADD_FAILURE() << "groups != C accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("depthwise_conv2d_nhwc"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace um::nn
