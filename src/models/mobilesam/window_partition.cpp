// File: src/models/mobilesam/window_partition.cpp
// Purpose: TinyViT window split/merge with zero padding (see window_partition.h). One pass of
// row copies (C contiguous floats each); the padded rows are zero-filled.
#include "models/mobilesam/window_partition.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/status.h"

namespace um::mobilesam {
namespace {

void check_tokens(const char* op, const Tensor& x, int64_t tokens) {
  if (x.dim() != 3 || x.size(1) != tokens || x.dtype() != DType::kF32 || !x.device().is_cpu()) {
    throw Error(StatusCode::kInvalidArgument, std::string(op) + ": expected float32 CPU [B, " +
                                                  std::to_string(tokens) + ", C], got " + x.str());
  }
}

void check_views(const char* op, const Tensor& x, int64_t tokens) {
  if (!x.defined() || x.dim() != 3 || x.size(1) != tokens ||
      (x.dtype() != DType::kF32 && x.dtype() != DType::kF16)) {
    throw Error(StatusCode::kInvalidArgument,
                std::string(op) + ": expected float32/float16 [B, " + std::to_string(tokens) +
                    ", C], got " + (x.defined() ? x.str() : std::string("undefined")));
  }
}

void check_window_count(int64_t windows, int64_t expected) {
  if (windows != expected) {
    throw Error(StatusCode::kInvalidArgument, "window_reverse: " + std::to_string(windows) +
                                                  " windows, expected " + std::to_string(expected));
  }
}

}  // namespace

Tensor window_partition(const Tensor& x_in, int64_t h, int64_t w, int64_t ws) {
  if (x_in.defined() && x_in.device().is_cuda()) return window_partition_views(x_in, h, w, ws);
  check_tokens("window_partition", x_in, h * w);
  const Tensor x = x_in.contiguous();
  const int64_t b = x.size(0), c = x.size(2);
  const int64_t nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws;
  Tensor out = Tensor::empty({b * nh * nw, ws * ws, c});
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  const size_t row_bytes = static_cast<size_t>(c) * sizeof(float);
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t wy = 0; wy < nh; ++wy) {
      for (int64_t wx = 0; wx < nw; ++wx) {
        float* win = dst + ((bi * nh + wy) * nw + wx) * ws * ws * c;
        for (int64_t iy = 0; iy < ws; ++iy) {
          for (int64_t ix = 0; ix < ws; ++ix) {
            const int64_t y = wy * ws + iy, xx = wx * ws + ix;
            float* d = win + (iy * ws + ix) * c;
            if (y < h && xx < w) {
              std::memcpy(d, src + (bi * h * w + y * w + xx) * c, row_bytes);
            } else {
              std::fill(d, d + c, 0.0f);
            }
          }
        }
      }
    }
  }
  return out;
}

Tensor window_reverse(const Tensor& win_in, int64_t batch, int64_t h, int64_t w, int64_t ws) {
  if (win_in.defined() && win_in.device().is_cuda()) {
    return window_reverse_views(win_in, batch, h, w, ws);
  }
  check_tokens("window_reverse", win_in, ws * ws);
  const int64_t nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws;
  check_window_count(win_in.size(0), batch * nh * nw);
  const Tensor win = win_in.contiguous();
  const int64_t c = win.size(2);
  Tensor out = Tensor::empty({batch, h * w, c});
  const float* src = win.data<float>();
  float* dst = out.data<float>();
  const size_t row_bytes = static_cast<size_t>(c) * sizeof(float);
  for (int64_t bi = 0; bi < batch; ++bi) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t xx = 0; xx < w; ++xx) {
        const int64_t wy = y / ws, wx = xx / ws, iy = y % ws, ix = xx % ws;
        const float* s = src + (((bi * nh + wy) * nw + wx) * ws * ws + iy * ws + ix) * c;
        std::memcpy(dst + (bi * h * w + y * w + xx) * c, s, row_bytes);
      }
    }
  }
  return out;
}

// Views: [B, H*W, C] -> [B, Hp, Wp, C] (zero padded) -> [B, nH, ws, nW, ws, C]
// -> permute (0, 1, 3, 2, 4, 5) -> contiguous [B*nH*nW, ws*ws, C].
Tensor window_partition_views(const Tensor& x, int64_t h, int64_t w, int64_t ws) {
  check_views("window_partition", x, h * w);
  const int64_t b = x.size(0), c = x.size(2);
  const int64_t nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws;
  const Tensor grid = x.reshape({b, h, w, c});
  Tensor padded = grid;
  if (nh * ws != h || nw * ws != w) {
    padded = Tensor::zeros({b, nh * ws, nw * ws, c}, x.dtype(), x.device());
    padded.slice(1, 0, h).slice(2, 0, w).copy_from(grid);
  }
  return padded.view({b, nh, ws, nw, ws, c})
      .permute({0, 1, 3, 2, 4, 5})
      .contiguous()
      .view({b * nh * nw, ws * ws, c});
}

// The inverse: [B*nH*nW, ws*ws, C] -> [B, nH, nW, ws, ws, C] -> permute -> [B, Hp, Wp, C] ->
// crop -> [B, H*W, C].
Tensor window_reverse_views(const Tensor& win, int64_t batch, int64_t h, int64_t w, int64_t ws) {
  check_views("window_reverse", win, ws * ws);
  const int64_t nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws, c = win.size(2);
  check_window_count(win.size(0), batch * nh * nw);
  const Tensor full = win.reshape({batch, nh, nw, ws, ws, c})
                          .permute({0, 1, 3, 2, 4, 5})
                          .contiguous()
                          .view({batch, nh * ws, nw * ws, c});
  if (nh * ws == h && nw * ws == w) return full.view({batch, h * w, c});
  return full.slice(1, 0, h).slice(2, 0, w).contiguous().view({batch, h * w, c});
}

}  // namespace um::mobilesam
