// File: src/nn/attention_tiled_cuda.cu
// Purpose: the fast CUDA attention kernel for head dims <= 64 with a contiguous last dim (every
// attention of the models: TinyViT windows 49 x 49 and 196 x 196 with a [H, N, N] bias, SAM's
// 4096 x 7, 7 x 4096 and 7 x 7, D-FINE's 300 x 300 and 400 x 400; head dims 16 and 32). The
// device code lives in attention_tiled_cuda.cuh (also compiled as host C++ by the CPU emulation
// test tests/nn/attention_tiled_emulation_test.cpp); this file picks rows per warp and splits:
// softmax(scale * q k^T + bias) v with an online softmax over tiles of 64 keys, float32 scores,
// statistics and accumulators for float32 and float16 data. Called by
// scaled_dot_product_attention_cuda (attention_cuda.cu), which checks the operands.
//
// Layout (all indices in elements):
//   q [B, H, Lq, D] at q + b*qs0 + h*qs1 + row*qs2 + c     (last dim contiguous)
//   k, v [B, H, Lk, D] likewise with their own strides     (head views of a packed qkv are fine)
//   bias broadcast to [B, H, Lq, Lk] through strides bs0..bs3 (0 on broadcast dims), any strides
//   out [B, H, Lq, D] contiguous: out + ((b*H + h)*Lq + row)*D + c
// Grid: x = b*H + h; y = block of kWarps*R query rows; z = key split (1 unless the blocks are few).
// Block: kWarps warps; warp w owns the rows row0 + r*kWarps + w for r < R (R rows per warp, their
// softmax state in registers). Shared memory (dynamic, float32, 16-byte aligned pieces):
//   sk [64][D|1]   key tile; the odd row stride makes lane j reading row j conflict-free
//   sv [64][D]     value tile; lane c reading column c of one row is conflict-free
//   sq [kWarps][D][R]  the warp's query rows, the R rows of one dim adjacent (one float4 load
//                      gives 4 rows' q[c]: each K value read from shared memory once per warp)
//   sp [kWarps][64][R] the warp's probabilities p[r][j], likewise (each V value read once)
// Per tile: lane j scores keys j and j+32 for all R rows (dot over D), the warp reduces max and
// sum per row by xor-shuffles (online softmax), writes p to sp, then lane c accumulates output
// dims c and c+32 of all R rows over the tile's keys. The staging loads 16-byte vectors (8 halves
// / 4 floats) when every row start of k and v is 16-byte aligned, else single elements; both are
// coalesced along D. Rows past Lq get q = 0 (finite, never written out).
// Split keys: as in the generic kernel, each split writes its unnormalised accumulator and
// (max, sum) to float32 workspaces [rows, splits, D] / [rows, splits, 2] and
// attention_merge_splits_launch combines them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "nn/attention_cuda.h"
#include "nn/attention_tiled_cuda.cuh"
#include "nn/cuda_op_util.cuh"

namespace um::nn::detail {
namespace {

using namespace attention_tiled;  // NOLINT: the kernel and its constants

constexpr int64_t kMaxSmemBytes = 48 * 1024;  // no opt-in needed below this

int64_t smem_bytes(int64_t d, int rows_per_warp) {
  return smem_floats(d, rows_per_warp) * static_cast<int64_t>(sizeof(float));
}

bool last_dim_contiguous(const Tensor& t) { return t.size(3) == 1 || t.strides()[3] == 1; }

// Every row start of t (a k or v view) is 16-byte aligned and D a whole number of 16-byte
// vectors: then the staging may load 16 bytes at a time.
bool rows_16b_aligned(const Tensor& t) {
  const int64_t elem = static_cast<int64_t>(dtype_size(t.dtype()));
  const int64_t n = 16 / elem;
  if (t.size(3) % n != 0) return false;
  if (!aligned16(t.raw_data())) return false;
  for (int i = 0; i < 3; ++i) {
    if (t.size(i) > 1 && t.strides()[i] % n != 0) return false;
  }
  return true;
}

template <typename T, int R>
void launch_r(const TiledArgs& a, dim3 grid, int64_t smem) {
  const size_t bytes = static_cast<size_t>(smem);
  if (a.d == 32) {
    attention_tiled_kernel<T, R, 32><<<grid, kThreads, bytes, stream()>>>(a);
  } else if (a.d == 16) {
    attention_tiled_kernel<T, R, 16><<<grid, kThreads, bytes, stream()>>>(a);
  } else {
    attention_tiled_kernel<T, R, 0><<<grid, kThreads, bytes, stream()>>>(a);
  }
}

}  // namespace

bool attention_tiled_supported(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t d = q.size(3);
  return d >= 1 && d <= kMaxD && last_dim_contiguous(q) && last_dim_contiguous(k) &&
         last_dim_contiguous(v);
}

void attention_tiled_launch(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                            const int64_t bias_strides[4], float scale, Tensor& out) {
  static constexpr const char* kOp = "scaled_dot_product_attention";
  const int64_t b = q.size(0), h = q.size(1), lq = q.size(2), lk = k.size(2), d = q.size(3);
  if (b * h > 0x7fffffffLL) fail(kOp, "q " + shape_str(q.shape()) + " exceeds the launch grid");
  // Rows per warp: as many as keep >= kTargetBlocks blocks (about two waves on 132 SMs), so that
  // K/V tiles are staged once for up to 64 query rows (TinyViT: one block per window and head)
  // without leaving SMs idle (D-FINE's 8 heads x 400 rows take one row per warp).
  constexpr int64_t kTargetBlocks = 264;
  auto tiles_for = [&](int r) { return (lq + kWarps * r - 1) / (kWarps * r); };
  int rpw = 8;
  while (rpw > 1 &&
         (b * h * tiles_for(rpw) < kTargetBlocks || smem_bytes(d, rpw) > kMaxSmemBytes)) {
    rpw /= 2;
  }
  const int64_t tiles = tiles_for(rpw);
  if (tiles > 65535) fail(kOp, "q " + shape_str(q.shape()) + " exceeds the launch grid");
  // Split the keys when even one row per warp leaves the GPU idle and the keys are many (SAM's
  // 7 tokens x 4096 image positions): whole 64-key tiles, at least kMinKeysPerSplit per split.
  constexpr int64_t kMinKeysPerSplit = 128;
  const int64_t blocks = b * h * tiles;
  int64_t splits = 1;
  if (blocks < kTargetBlocks && lk >= 2 * kMinKeysPerSplit) {
    splits = std::min<int64_t>(kTargetBlocks / blocks, lk / kMinKeysPerSplit);
    splits = std::max<int64_t>(1, std::min<int64_t>(splits, 64));
  }
  const int64_t key_tiles = (lk + kTileKeys - 1) / kTileKeys;
  const int64_t keys_per_split = ((key_tiles + splits - 1) / splits) * kTileKeys;
  splits = (lk + keys_per_split - 1) / keys_per_split;  // no empty split

  TiledArgs a{};
  a.q = q.raw_data();
  a.k = k.raw_data();
  a.v = v.raw_data();
  a.bias = bias.defined() ? bias.raw_data() : nullptr;
  a.out = out.raw_data();
  for (int i = 0; i < 3; ++i) {
    a.qs[i] = q.strides()[i];
    a.ks[i] = k.strides()[i];
    a.vs[i] = v.strides()[i];
  }
  for (int i = 0; i < 4; ++i) a.bs[i] = bias_strides[i];
  a.heads = static_cast<int>(h);
  a.lq = lq;
  a.lk = lk;
  a.d = static_cast<int>(d);
  a.scale = scale;
  a.vec = rows_16b_aligned(k) && rows_16b_aligned(v);
  a.keys_per_split = keys_per_split;
  Tensor part_acc, part_ml;
  if (splits > 1) {
    part_acc = Tensor::empty({b * h * lq * splits * d}, DType::kF32, q.device());
    part_ml = Tensor::empty({b * h * lq * splits * 2}, DType::kF32, q.device());
    a.part_acc = part_acc.data<float>();
    a.part_ml = part_ml.data<float>();
  }
  const dim3 grid(static_cast<unsigned>(b * h), static_cast<unsigned>(tiles),
                  static_cast<unsigned>(splits));
  const int64_t smem = smem_bytes(d, rpw);
  UM_DISPATCH_FLOAT(q.dtype(), T, {
    switch (rpw) {
      case 8: launch_r<T, 8>(a, grid, smem); break;
      case 4: launch_r<T, 4>(a, grid, smem); break;
      case 2: launch_r<T, 2>(a, grid, smem); break;
      default: launch_r<T, 1>(a, grid, smem); break;
    }
    check_launch(kOp);
  });
  if (splits > 1) {
    attention_merge_splits_launch(a.part_acc, a.part_ml, out, b * h * lq,
                                  static_cast<int>(splits), static_cast<int>(d));
  }
}

}  // namespace um::nn::detail
