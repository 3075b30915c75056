// File: src/nn/window_attention_cpu.cpp
// Purpose: window_attention (nn/ops_sam.h): the argument checks of both devices, CUDA dispatch
// and the CPU reference. The reference builds the padded windows exactly as TinyViTBlock does
// (zero tokens projected to pad_qkv, windows in row-major window order, tokens in row-major order
// inside a window) and runs nn::scaled_dot_product_attention on them, so that it computes what
// the model computed before this op existed, and the CUDA kernels are tested against it.
#include <cstring>
#include <string>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/ops_sam.h"

namespace um::nn {
namespace {

constexpr const char* kOp = "window_attention";

bool needs_padding(const WindowAttentionParams& p) {
  return p.height % p.window != 0 || p.width % p.window != 0;
}

void check_operand(const Tensor& t, const char* name, int64_t numel, const Tensor& qkv) {
  if (!t.defined()) detail::fail(kOp, std::string(name) + " is undefined");
  if (t.numel() != numel) {
    detail::fail(kOp, std::string(name) + " must have " + std::to_string(numel) +
                          " elements, got " + t.str());
  }
  if (t.dtype() != qkv.dtype() || !(t.device() == qkv.device())) {
    detail::fail(kOp, std::string(name) + " " + t.str() +
                          " must have the dtype and device of qkv " + qkv.str());
  }
}

void check_args(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias,
                const WindowAttentionParams& p) {
  if (p.height < 1 || p.width < 1 || p.window < 1 || p.heads < 1 || p.key_dim < 1) {
    detail::fail(kOp, "height, width, window, heads and key_dim must be >= 1, got " +
                          std::to_string(p.height) + ", " + std::to_string(p.width) + ", " +
                          std::to_string(p.window) + ", " + std::to_string(p.heads) + ", " +
                          std::to_string(p.key_dim));
  }
  if (!qkv.defined()) detail::fail(kOp, "qkv is undefined");
  const int64_t row = p.heads * 3 * p.key_dim;
  if (qkv.dim() != 3 || qkv.size(1) != p.height * p.width || qkv.size(2) != row) {
    detail::fail(kOp, "qkv must be [B, " + std::to_string(p.height * p.width) + ", " +
                          std::to_string(row) + "], got " + qkv.str());
  }
  if (qkv.dtype() != DType::kF32 && qkv.dtype() != DType::kF16) {
    detail::fail(kOp, "qkv must be float32 or float16, got " + qkv.str());
  }
  if (needs_padding(p)) check_operand(pad_qkv, "pad_qkv", row, qkv);
  const int64_t n = p.window * p.window;
  check_operand(bias, "bias", p.heads * n * n, qkv);
}

}  // namespace

Tensor window_attention(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias,
                        const WindowAttentionParams& p) {
  check_args(qkv, pad_qkv, bias, p);
  UM_NN_CUDA_DISPATCH(qkv, window_attention_cuda(qkv, pad_qkv, bias, p));
  if (!qkv.device().is_cpu()) detail::fail(kOp, "qkv is on " + qkv.device().str());
  if (qkv.dtype() != DType::kF32) detail::fail(kOp, "the CPU computes float32 only");
  const Tensor x = qkv.contiguous();
  const int64_t batch = x.size(0), h = p.height, w = p.width, ws = p.window, n = ws * ws;
  const int64_t nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws, kd = p.key_dim;
  const int64_t row = p.heads * 3 * kd, out_row = p.heads * kd;
  const bool padded = needs_padding(p);
  const Tensor pad = padded ? pad_qkv.contiguous() : Tensor();
  // The padded windows [B * nH * nW, N, row], as TinyViTBlock's split gives them.
  Tensor win = Tensor::empty({batch * nh * nw, n, row});
  const float* src = x.data<float>();
  float* dst = win.data<float>();
  const size_t row_bytes = static_cast<size_t>(row) * sizeof(float);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t wy = 0; wy < nh; ++wy) {
      for (int64_t wx = 0; wx < nw; ++wx) {
        for (int64_t t = 0; t < n; ++t) {
          const int64_t y = wy * ws + t / ws, xx = wx * ws + t % ws;
          const float* from =
              (y < h && xx < w) ? src + ((b * h + y) * w + xx) * row : pad.data<float>();
          std::memcpy(dst + (((b * nh + wy) * nw + wx) * n + t) * row, from, row_bytes);
        }
      }
    }
  }
  const Tensor per_head = win.view({batch * nh * nw, n, p.heads, 3 * kd});
  const Tensor q = per_head.slice(3, 0, kd).permute({0, 2, 1, 3});
  const Tensor k = per_head.slice(3, kd, 2 * kd).permute({0, 2, 1, 3});
  const Tensor v = per_head.slice(3, 2 * kd, 3 * kd).permute({0, 2, 1, 3});
  const Tensor o = scaled_dot_product_attention(q, k, v, bias.reshape({1, p.heads, n, n}), p.scale)
                       .contiguous();  // [B * nH * nW, heads, N, kd]
  // Merge and crop: each in-image token gathers its heads' rows.
  Tensor out = Tensor::empty({batch, h * w, out_row});
  const float* ov = o.data<float>();
  float* outv = out.data<float>();
  const size_t kd_bytes = static_cast<size_t>(kd) * sizeof(float);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t xx = 0; xx < w; ++xx) {
        const int64_t win_index = (b * nh + y / ws) * nw + xx / ws;
        const int64_t t = (y % ws) * ws + xx % ws;
        float* to = outv + ((b * h + y) * w + xx) * out_row;
        for (int64_t head = 0; head < p.heads; ++head) {
          std::memcpy(to + head * kd, ov + ((win_index * p.heads + head) * n + t) * kd, kd_bytes);
        }
      }
    }
  }
  return out;
}

}  // namespace um::nn
