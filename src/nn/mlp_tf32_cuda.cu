// File: src/nn/mlp_tf32_cuda.cu
// Purpose: nn::mlp's float32 MLP on 3xTF32 tensor-core products (MlpParams::allow_split_tf32; see
// ops_mlp.h), one launch for the whole MLP: D-FINE's box-chain heads in float16 mode.
// Method: as mlp_cuda.cu's FFMA kernel, a cluster of kClusterBlocks blocks owns a tile of 16 rows
// (staged in shared memory), every block computes a slice of each layer's outputs (whole float4
// groups) and pushes it into every block's shared memory (distributed shared memory, one float4
// per thread and block) before the cluster barrier. Within a block a warp computes up to four
// 8-column slabs of the slice (sharing the split row operands) over every 8th (or 4th) 16-input
// chunk with mma.sync m16n8k8 (rows = M, outputs = N); the warps' partial sums meet in shared
// memory and are added in a fixed order. Weights go straight from global memory into registers,
// two chunks at once, and the NEXT layer's first weights and bias are issued before this layer's
// epilogue and barrier (the first layer's before the kernel waits for its input: they are
// constant, so under a programmatic launch (PDL) that latency overlaps the previous kernel).
// The k order inside a chunk is permuted so both operands are read as float4: lane (g, t) holds
// inputs 4t..4t+3 of its chunk; the first m16n8k8 step takes components x, y as its logical k =
// t and t + 4, the second z, w (the same permutation for rows and weights, so the sum is the same).
// Precision: 3xTF32 (mma_sm80.cuh's split: hi*hi + hi*lo + lo*hi) with float32 partial sums per
// 16-input chunk, the own conv kernels' rule: ~1e-6 of the output's scale on D-FINE's widths,
// where FFMA is ~1e-7. Never used in float32 mode (the CPU parity contract keeps the FFMA kernel).
// Why: the FFMA kernel spent ~5 us per layer on D-FINE's 300-row heads (ncu, H200: ~1650
// instructions per warp and layer at 2.6 warps per scheduler, long-scoreboard stalls on one L2
// round trip per 128 inputs, a 64-value butterfly per warp step). Measured (H200, ncu, D-FINE-S
// float16 frame): its 13 box-chain MLPs 188 -> 156 us (bbox heads 19-20 -> 16 us, query-position
// 17.8 -> 12.4, one-layer heads 7.8 -> 7.5); bench_cuda_mlp (8 per graph) bbox 159 -> 127 us,
// query position 135 -> 91. Tried: one slab per warp with a split per warp (18 us bbox heads: the
// row operands split once per slab, an integer division and a global bias load per output in the
// epilogue, a release fence at the first cluster arrival).
#include <cooperative_groups.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/cluster_launch.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/mlp_layer_table.h"
#include "nn/mlp_tile_rows.cuh"
#include "nn/mma_sm80.cuh"
#include "nn/ops_mlp.h"
#include "nn/programmatic_launch.cuh"
#include "nn/shared_memory_grant.cuh"

namespace um::nn::detail {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kClusterBlocks = 8;
constexpr int kTileRows = 16;    // one m16 tile of rows per cluster
constexpr int kChunk = 16;       // inputs per chunk: a float4 per lane, two m16n8k8 steps
constexpr int kWarpSlabs = 4;    // 8-column slabs a warp computes (they share its row operands)
constexpr int kBatchChunks = 2;  // chunks whose weights a warp has in flight at once
constexpr int kStageBatch = 8;   // input loads a thread has in flight while staging
// Slices are whole float4 groups (the epilogue pushes float4) of at most 64 columns (outputs <=
// kMlpFusedMaxWidth over 8 blocks): at most 8 slabs, so one or two slab groups of warps.
constexpr int kSliceAlign = 4;
// Partial sums: (8 parts x one group | 4 parts x two groups) x 16 rows x (slice + 4) floats.
constexpr int kRedFloats = kWarps * kTileRows * (kWarpSlabs * 8 + 4);
static_assert(kTileRows * 16 == kThreads, "the epilogue gives every thread one row's float4 group");

// One layer's work split for this block (all derived from the layer table on the device).
struct LayerSplit {
  int in, out, j_begin, j_end;  // this block's outputs [j_begin, j_end)
  int width, slabs;             // columns and 8-column slabs of the slice
  int groups, parts;            // slab groups (warps w % groups) x input parts (w / groups)
  int chunks;                   // 16-input chunks; part p takes chunks p, p + parts, ...
  int red_ld;                   // row stride of the partial sums
  __device__ LayerSplit(const MlpLayerTable& t, int l, int rank) {
    in = t.in[l];
    out = t.out[l];
    const int per_block =
        ((out + kClusterBlocks - 1) / kClusterBlocks + kSliceAlign - 1) / kSliceAlign * kSliceAlign;
    j_begin = rank * per_block;
    j_end = min(out, j_begin + per_block);
    width = max(0, j_end - j_begin);
    slabs = (width + 7) / 8;
    groups = max(1, (slabs + kWarpSlabs - 1) / kWarpSlabs);
    parts = kWarps / groups;
    chunks = (in + kChunk - 1) / kChunk;
    red_ld = slabs * 8 + 4;  // +4: the 8 rows of a fragment store start on different banks
  }
  // This warp's slabs [slab0, slab0 + nslabs) and input part.
  __device__ void warp_share(int warp, int& slab0, int& nslabs, int& part) const {
    slab0 = (warp % groups) * kWarpSlabs;
    nslabs = max(0, min(kWarpSlabs, slabs - slab0));
    part = warp / groups;
  }
};

// The weights of this warp's chunks i0, i0 + 1 (its own numbering: chunk part + parts * i) for
// its slabs: lane (g, t) reads output column j_begin + 8 slab + g, inputs 4t.. of the chunk; zero
// past the layer's edges. kVec: float4 loads (every in % 4 == 0, rows 16-byte aligned), else four
// checked scalar loads.
template <bool kVec>
__device__ __forceinline__ void load_weights(float4 (&wv)[kBatchChunks][kWarpSlabs],
                                             const float* __restrict__ w, const LayerSplit& s,
                                             int slab0, int nslabs, int part, int i0, int g,
                                             int t) {
#pragma unroll
  for (int i = 0; i < kBatchChunks; ++i) {
    const int k = (part + s.parts * (i0 + i)) * kChunk + 4 * t;
#pragma unroll
    for (int q = 0; q < kWarpSlabs; ++q) {
      const int j = s.j_begin + (slab0 + q) * 8 + g;
      float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
      if (q < nslabs && j < s.j_end && k < s.in) {
        const float* p = w + static_cast<int64_t>(j) * s.in + k;
        if constexpr (kVec) {
          v = __ldg(reinterpret_cast<const float4*>(p));
        } else {
          v.x = __ldg(p);
          v.y = k + 1 < s.in ? __ldg(p + 1) : 0.f;
          v.z = k + 2 < s.in ? __ldg(p + 2) : 0.f;
          v.w = k + 3 < s.in ? __ldg(p + 3) : 0.f;
        }
      }
      wv[i][q] = v;
    }
  }
}

// The bias of the epilogue thread's 4 columns from j (zero past the slice or without bias).
__device__ __forceinline__ float4 load_bias(const float* __restrict__ b, int j, int j_end) {
  float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
  if (b != nullptr) {
    v.x = j < j_end ? __ldg(b + j) : 0.f;
    v.y = j + 1 < j_end ? __ldg(b + j + 1) : 0.f;
    v.z = j + 2 < j_end ? __ldg(b + j + 2) : 0.f;
    v.w = j + 3 < j_end ? __ldg(b + j + 3) : 0.f;
  }
  return v;
}

// Inputs 4t.. of a chunk at k of one staged row, zero from `in` on (the buffer past a layer's
// input width holds an earlier layer's values of the same row).
__device__ __forceinline__ float4 row_inputs(const float* row, int k, int in) {
  float4 v = *reinterpret_cast<const float4*>(row + k);
  if (k + 4 > in) {
    v.x = k < in ? v.x : 0.f;
    v.y = k + 1 < in ? v.y : 0.f;
    v.z = k + 2 < in ? v.z : 0.f;
    v.w = 0.f;
  }
  return v;
}

__device__ __forceinline__ float4 add4(float4 a, float4 b) {
  return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}
__device__ __forceinline__ float relu(float v) { return v < 0.f ? 0.f : v; }  // NaN stays NaN

// One block of a cluster; rows [tile * 16, +16) of x. ld: the staged rows' stride (floats).
template <bool kVec>
__global__ void __launch_bounds__(kThreads, 2)
    mlp_tf32_kernel(const float* __restrict__ x, int64_t xs0, int64_t xs1, int rows,
                    MlpLayerTable layers, int ld, const float* __restrict__ res, int64_t rs0,
                    int64_t rs1, float* __restrict__ y) {
#if UM_NN_DEVICE_CLUSTERS
  extern __shared__ float4 smem4[];
  float* cur = reinterpret_cast<float*>(smem4);
  float* nxt = cur + kTileRows * ld;
  float* red = nxt + kTileRows * ld;
  cg::cluster_group cluster = cg::this_cluster();
  const int rank = static_cast<int>(cluster.block_rank());
  const int row0 = static_cast<int>(blockIdx.x / kClusterBlocks) * kTileRows;
  const int nrows = min(kTileRows, rows - row0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  // The epilogue's share: row er, columns 4 eq.. of the block's slice.
  const int er = threadIdx.x / 16, ec = 4 * (threadIdx.x % 16);

  // The first layer's weights and bias before anything that depends on the previous kernel.
  float4 wv[kBatchChunks][kWarpSlabs];
  float4 bias;
  {
    const LayerSplit s(layers, 0, rank);
    int slab0, nslabs, part;
    s.warp_share(warp, slab0, nslabs, part);
    load_weights<kVec>(wv, static_cast<const float*>(layers.w[0]), s, slab0, nslabs, part, 0, g, t);
    bias = load_bias(static_cast<const float*>(layers.b[0]), s.j_begin + ec, s.j_end);
  }
  // Distributed shared memory may be written only once every block of the cluster runs: this
  // arrival (no memory ordering needed) is waited for before the first push.
  asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
  wait_for_prerequisite_grids();

  // The last layer's residual, read once now.
  float4 residual = make_float4(0.f, 0.f, 0.f, 0.f);
  if (res != nullptr && er < nrows) {
    const LayerSplit s(layers, layers.n - 1, rank);
    const float* rp = res + (row0 + er) * rs0;
    const int j = s.j_begin + ec;
    residual.x = j < s.j_end ? rp[j * rs1] : 0.f;
    residual.y = j + 1 < s.j_end ? rp[(j + 1) * rs1] : 0.f;
    residual.z = j + 2 < s.j_end ? rp[(j + 2) * rs1] : 0.f;
    residual.w = j + 3 < s.j_end ? rp[(j + 3) * rs1] : 0.f;
  }
  // The tile's input rows (rows past the end as zeros: computed, never written).
  stage_tile_rows<kThreads, kStageBatch>(x, xs0, xs1, row0, nrows, kTileRows, layers.in[0], cur,
                                         ld);
  __syncthreads();

  for (int l = 0; l < layers.n; ++l) {
    const LayerSplit s(layers, l, rank);
    const bool last = l + 1 == layers.n;
    int slab0, nslabs, part;
    s.warp_share(warp, slab0, nslabs, part);
    const float* w = static_cast<const float*>(layers.w[l]);
    float acc[kWarpSlabs][4] = {};
    const int my_chunks = part < s.chunks ? (s.chunks - part + s.parts - 1) / s.parts : 0;
    if (nslabs > 0) {
      const float* row_g = cur + g * ld;
      const float* row_g8 = cur + (g + 8) * ld;
      for (int i0 = 0; i0 < my_chunks; i0 += kBatchChunks) {
        if (i0 != 0) load_weights<kVec>(wv, w, s, slab0, nslabs, part, i0, g, t);
#pragma unroll
        for (int i = 0; i < kBatchChunks; ++i) {
          if (i0 + i >= my_chunks) break;
          const int k = (part + s.parts * (i0 + i)) * kChunk + 4 * t;
          const float4 a = row_inputs(row_g, k, s.in);
          const float4 a8 = row_inputs(row_g8, k, s.in);
          // The rows' operands of both m16n8k8 steps, split once for all the warp's slabs:
          // step 0 takes components x, y (logical k = t, t + 4), step 1 z, w.
          uint32_t a_hi[2][4], a_lo[2][4];
          split_tf32(a.x, a_hi[0][0], a_lo[0][0]);
          split_tf32(a8.x, a_hi[0][1], a_lo[0][1]);
          split_tf32(a.y, a_hi[0][2], a_lo[0][2]);
          split_tf32(a8.y, a_hi[0][3], a_lo[0][3]);
          split_tf32(a.z, a_hi[1][0], a_lo[1][0]);
          split_tf32(a8.z, a_hi[1][1], a_lo[1][1]);
          split_tf32(a.w, a_hi[1][2], a_lo[1][2]);
          split_tf32(a8.w, a_hi[1][3], a_lo[1][3]);
#pragma unroll
          for (int q = 0; q < kWarpSlabs; ++q) {
            if (q >= nslabs) break;
            const float b[2][2] = {{wv[i][q].x, wv[i][q].y}, {wv[i][q].z, wv[i][q].w}};
            float part_sum[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
            for (int step = 0; step < 2; ++step) {
              uint32_t b_hi[2], b_lo[2];
              split_tf32(b[step][0], b_hi[0], b_lo[0]);
              split_tf32(b[step][1], b_hi[1], b_lo[1]);
              // The small products first, so they are not lost below the large one's rounding.
              mma_1688_tf32(part_sum, a_lo[step], b_hi[0], b_hi[1]);
              mma_1688_tf32(part_sum, a_hi[step], b_lo[0], b_lo[1]);
              mma_1688_tf32(part_sum, a_hi[step], b_hi[0], b_hi[1]);
            }
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[q][e] += part_sum[e];
          }
        }
      }
      // d0, d1 = (row g, slab columns 2t, 2t + 1), d2, d3 = (row g + 8, same columns).
#pragma unroll
      for (int q = 0; q < kWarpSlabs; ++q) {
        if (q >= nslabs) break;
        float* p = red + (part * kTileRows + g) * s.red_ld + (slab0 + q) * 8 + 2 * t;
        *reinterpret_cast<float2*>(p) = make_float2(acc[q][0], acc[q][1]);
        *reinterpret_cast<float2*>(p + 8 * s.red_ld) = make_float2(acc[q][2], acc[q][3]);
      }
    }
    // The next layer's weights and bias fly during this layer's epilogue and barrier.
    float4 next_bias = bias;
    if (!last) {
      const LayerSplit n(layers, l + 1, rank);
      int n_slab0, n_nslabs, n_part;
      n.warp_share(warp, n_slab0, n_nslabs, n_part);
      load_weights<kVec>(wv, static_cast<const float*>(layers.w[l + 1]), n, n_slab0, n_nslabs,
                         n_part, 0, g, t);
      next_bias = load_bias(static_cast<const float*>(layers.b[l + 1]), n.j_begin + ec, n.j_end);
    }
    __syncthreads();
    if (l == 0) asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
    if (ec < s.width) {
      // The partial sums of every input part, in a fixed order, then the bias.
      float4 sum = *reinterpret_cast<const float4*>(red + er * s.red_ld + ec);
      for (int p = 1; p < s.parts; ++p) {
        const float* partial = red + (p * kTileRows + er) * s.red_ld + ec;
        sum = add4(sum, *reinterpret_cast<const float4*>(partial));
      }
      sum = add4(sum, bias);
      const int j = s.j_begin + ec;
      if (last) {
        // residual + (x W^T + b): the CPU reference's add(residual, linear(...)).
        if (er < nrows) {
          float* yr = y + static_cast<int64_t>(row0 + er) * s.out;
          const float v[4] = {residual.x + sum.x, residual.y + sum.y, residual.z + sum.z,
                              residual.w + sum.w};
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            if (j + e < s.j_end) yr[j + e] = v[e];
          }
        }
      } else {
        // Pushed into every block's nxt as one float4 (columns past the layer's width are zero
        // and never read): stores do not wait for a remote latency.
        const float4 v = make_float4(relu(sum.x), relu(sum.y), relu(sum.z), relu(sum.w));
        float4* dst = reinterpret_cast<float4*>(nxt + er * ld + j);
#pragma unroll
        for (int q = 0; q < kClusterBlocks; ++q) *cluster.map_shared_rank(dst, q) = v;
      }
    }
    if (last) break;
    // Every block's whole layer output is in place once all have arrived (the barrier orders
    // the remote stores); the next layer pushes into the other buffer, which every block
    // finished reading before it arrived here, and writes `red` only after everyone read it.
    // After the last layer nobody touches another block's memory, so blocks may leave at once.
    cluster.sync();
    bias = next_bias;
    float* tmp = cur;
    cur = nxt;
    nxt = tmp;
  }
#else
  __trap();  // never launched: mlp_tf32_cuda_runs() is false without sm_90 code
#endif
}

template <bool kVec>
void launch(const MlpRowsOperands& o, int ld) {
  const int tiles = (o.rows + kTileRows - 1) / kTileRows;
  const size_t smem = (2 * static_cast<size_t>(kTileRows) * ld + kRedFloats) * sizeof(float);
  const auto kernel = mlp_tf32_kernel<kVec>;
  if (!allow_dynamic_shared_memory(reinterpret_cast<const void*>(kernel), smem)) {
    fail("mlp", "a 16-row tile needs " + std::to_string(smem) +
                    " bytes of shared memory, more than the device allows per block");
  }
  launch_clusters(kernel, static_cast<unsigned>(tiles * kClusterBlocks), kThreads, smem,
                  kClusterBlocks, LaunchOrder::kProgrammatic, o.x, o.xs0, o.xs1, o.rows,
                  o.layers.table, ld, o.res, o.rs0, o.rs1, o.y_data);
}

}  // namespace

bool mlp_tf32_cuda_runs() {
  return cluster_variant_runs(reinterpret_cast<const void*>(mlp_tf32_kernel<true>));
}

Tensor mlp_tf32_cuda(const Tensor& x, const std::vector<Tensor>& weights,
                     const std::vector<Tensor>& biases, const Tensor& residual) {
  static constexpr const char* kOp = "mlp";
  const MlpRowsOperands o =
      mlp_rows_operands(kOp, "the 3xTF32 kernel", x, weights, biases, residual);
  if (o.rows == 0) return o.y;
  // Row stride: whole chunks of 16 (a chunk's float4 reads stay inside the row) and 16 mod 32, so
  // the two rows one quarter-warp reads (g, g + 1) start 64 bytes apart: no bank conflicts.
  const int ld = static_cast<int>((o.layers.max_width + 31) / 32 * 32 + 16);
  if (o.layers.vec) {
    launch<true>(o, ld);
  } else {
    launch<false>(o, ld);
  }
  check_launch(kOp);
  return o.y;
}

}  // namespace um::nn::detail
