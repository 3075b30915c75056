// File: src/nn/mlp_cuda.cu
// Purpose: the fused CUDA kernel of nn::mlp (see ops_mlp.h): one float32 MLP over many rows in ONE
// launch, the rows' hidden activations never leaving shared memory.
// Method: a block (or, on sm_90, a cluster of kClusterBlocks blocks) owns a tile of kTileRows
// rows, staged in shared memory. Per layer, every warp computes kCols outputs of all the tile's
// rows at a time: lanes split the input dim in 16-byte chunks (each weight row is contiguous
// along it: coalesced loads; the rows' chunks are conflict-free shared-memory reads), so each
// weight chunk feeds kTileRows x 4 FMAs from registers; a butterfly reduce-scatter then leaves
// every lane with two finished sums (62 shuffles for 64 sums instead of 320 for a full
// butterfly on each). In a cluster, the blocks split each layer's outputs, and each block pushes
// its outputs into every block's shared memory (distributed shared memory) before the next
// layer's barrier; the last layer adds the bias and the residual and writes y.
// Why this shape: D-FINE's box-chain MLPs are 300 rows x 256-wide layers: tiny GEMMs that
// cuBLASLt ran as split-K kernel pairs; the weights (up to 660 KB per MLP) are read from L2 once
// per 16-row tile, and the cluster spreads a tile's work over 8 SMs.
// Measured (H200, bench/bench_cuda_mlp.cpp, 8 MLPs per CUDA graph): bbox head 159 us vs 191-194
// us for the per-layer sequence, query-position head 135 vs 165 us. The kernel is latency-bound
// (ncu: 2.6 warps per scheduler; long-scoreboard, cluster-barrier and fence stalls lead); tried
// and slower: 8-row tiles with two weight chunks in flight (165 us), clusters of 16 with 2
// outputs per warp step (193 us), an L1 prefetch of the block's weights (165 us).
#include <cooperative_groups.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/cluster_launch.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/mlp_layer_table.h"
#include "nn/mlp_tile_rows.cuh"
#include "nn/ops_mlp.h"
#include "nn/shared_memory_grant.cuh"

namespace um::nn::detail {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kCols = 4;  // outputs per warp step (4 independent weight loads in flight)
constexpr int kClusterBlocks = 8;
constexpr int kStageBatch = 8;  // staging loads a thread has in flight
constexpr int kTileRows = 16;  // rows per tile: each weight chunk read feeds 16 rows

// v[0 .. kN) per lane -> v[0 .. kN / 32) hold the warp's sums of the flat indices
// lane * (kN / 32) + i. Each step pairs lanes `o` apart: the lane with bit o set keeps the upper
// half of its values and receives its partner's upper half (the partner keeps the lower half),
// so every step halves the values a lane carries and sums one more bit of the lane index.
template <int kN, int kHalf, int kOffset>
__device__ __forceinline__ void reduce_scatter_step(float (&v)[kN], int lane) {
  const bool upper = (lane & kOffset) != 0;
#pragma unroll
  for (int i = 0; i < kHalf; ++i) {
    const float send = upper ? v[i] : v[i + kHalf];
    const float keep = upper ? v[i + kHalf] : v[i];
    v[i] = keep + __shfl_xor_sync(0xffffffffu, send, kOffset);
  }
}
// (Five explicit steps: as a loop, ptxas kept the array in local memory.)
template <int kN>
__device__ __forceinline__ void reduce_scatter(float (&v)[kN], int lane) {
  reduce_scatter_step<kN, kN / 2, 16>(v, lane);
  reduce_scatter_step<kN, kN / 4, 8>(v, lane);
  reduce_scatter_step<kN, kN / 8, 4>(v, lane);
  reduce_scatter_step<kN, kN / 16, 2>(v, lane);
  reduce_scatter_step<kN, kN / 32, 1>(v, lane);
}

// kVec: every layer's input width is a multiple of 4 and the weights 16-byte aligned (float4
// loads), else element loads. kCluster: launched in clusters of kClusterBlocks per tile.
// Two blocks per SM (<= 128 registers): a 300-row launch is 19 tiles x 8 blocks = 152 blocks,
// more than an H100/H200 has SMs; at one block per SM the last 20 would run as a second wave.
template <bool kVec, bool kCluster>
__global__ void __launch_bounds__(kThreads, 2)
    mlp_rows_kernel(const float* __restrict__ x, int64_t xs0, int64_t xs1, int rows, MlpLayerTable layers,
                    int ld, const float* __restrict__ res, int64_t rs0, int64_t rs1,
                    float* __restrict__ y) {
  constexpr int kSums = kTileRows * kCols;  // per warp step, kSums / 32 per lane after the reduction
  constexpr int kSumsPerLane = kSums / 32;
  static_assert(kSums % 32 == 0 && (kSumsPerLane & (kSumsPerLane - 1)) == 0,
                "the reduce-scatter halves the sums down to a power of two per lane");
  extern __shared__ float4 smem4[];  // 16-byte aligned for the float4 reads
  float* cur = reinterpret_cast<float*>(smem4);
  float* nxt = cur + kTileRows * ld;
  int rank, blocks;  // this block's place in its tile's cluster
  cluster_place<kCluster>(rank, blocks);
  const int row0 = static_cast<int>(blockIdx.x / blocks) * kTileRows;
  const int nrows = min(kTileRows, rows - row0);
  // The tile's input rows (rows past the end as zeros: computed, never written).
  stage_tile_rows<kThreads, kStageBatch>(x, xs0, xs1, row0, nrows, kTileRows, layers.in[0], cur,
                                         ld);
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int l = 0; l < layers.n; ++l) {
    const int in = layers.in[l], out = layers.out[l];
    const bool last = l + 1 == layers.n;
    const float* w = static_cast<const float*>(layers.w[l]);
    const float* b = static_cast<const float*>(layers.b[l]);
    // This block's outputs [j_begin, j_end) of the layer (all of them without clusters).
    const int per_block = (out + blocks - 1) / blocks;
    const int j_begin = rank * per_block;
    const int j_end = min(out, j_begin + per_block);
    for (int j0 = j_begin + warp * kCols; j0 < j_end; j0 += kWarps * kCols) {
      float acc[kSums];  // [row][col] flattened
#pragma unroll
      for (int i = 0; i < kSums; ++i) acc[i] = 0.f;
      if constexpr (kVec) {
        for (int k0 = lane * 4; k0 < in; k0 += 128) {
          float4 wv[kCols];
#pragma unroll
          for (int c = 0; c < kCols; ++c) {
            wv[c] = j0 + c < j_end
                        ? __ldg(reinterpret_cast<const float4*>(w + static_cast<int64_t>(j0 + c) * in + k0))
                        : make_float4(0.f, 0.f, 0.f, 0.f);
          }
#pragma unroll
          for (int r = 0; r < kTileRows; ++r) {
            const float4 xv = *reinterpret_cast<const float4*>(cur + r * ld + k0);
#pragma unroll
            for (int c = 0; c < kCols; ++c) {
              float a = acc[r * kCols + c];
              a = fmaf(wv[c].x, xv.x, a);
              a = fmaf(wv[c].y, xv.y, a);
              a = fmaf(wv[c].z, xv.z, a);
              acc[r * kCols + c] = fmaf(wv[c].w, xv.w, a);
            }
          }
        }
      } else {
        for (int k = lane; k < in; k += 32) {
          float wv[kCols];
#pragma unroll
          for (int c = 0; c < kCols; ++c) {
            wv[c] = j0 + c < j_end ? __ldg(w + static_cast<int64_t>(j0 + c) * in + k) : 0.f;
          }
#pragma unroll
          for (int r = 0; r < kTileRows; ++r) {
            const float xv = cur[r * ld + k];
#pragma unroll
            for (int c = 0; c < kCols; ++c) acc[r * kCols + c] = fmaf(wv[c], xv, acc[r * kCols + c]);
          }
        }
      }
      reduce_scatter(acc, lane);
#pragma unroll
      for (int i = 0; i < kSumsPerLane; ++i) {
        const int f = lane * kSumsPerLane + i;
        const int r = f / kCols, j = j0 + f % kCols;
        if (j >= j_end) continue;
        const float s = acc[i] + (b ? b[j] : 0.f);
        if (last) {
          // residual + (x W^T + b): the CPU reference's add(residual, linear(...)).
          if (r < nrows) {
            const int64_t row = row0 + r;
            y[row * out + j] = res ? res[row * rs0 + j * rs1] + s : s;
          }
        } else {
          const float v = s < 0.f ? 0.f : s;  // ReLU (a NaN stays NaN, as torch.relu)
          if constexpr (kCluster) {
#if UM_NN_DEVICE_CLUSTERS
            // Pushed into every block's nxt (distributed shared memory): stores do not wait, a
            // gather after the barrier would wait a remote latency per element.
            cg::cluster_group cluster = cg::this_cluster();
            for (int q = 0; q < blocks; ++q) *cluster.map_shared_rank(nxt + r * ld + j, q) = v;
#endif
          } else {
            nxt[r * ld + j] = v;
          }
        }
      }
    }
    // The whole layer output is in every block once all have arrived (the cluster barrier
    // orders the remote stores). Nobody writes a buffer another block still reads: the next
    // layer pushes into the OTHER buffer, which every block finished reading (as its input of
    // the previous layer) before it arrived here.
    if (!last) cluster_sync<kCluster>();
    __syncthreads();
    float* t = cur;
    cur = nxt;
    nxt = t;
  }
  cluster_sync<kCluster>();  // no block's shared memory may go while others still read it
}

template <bool kVec>
void launch(const MlpRowsOperands& o, int ld, bool allow_clusters) {
  const int tiles = (o.rows + kTileRows - 1) / kTileRows;
  const size_t smem = 2 * static_cast<size_t>(kTileRows) * ld * sizeof(float);
  const auto clustered = mlp_rows_kernel<kVec, true>;
  const bool clusters =
      allow_clusters && cluster_variant_runs(reinterpret_cast<const void*>(clustered));
  const auto kernel = clusters ? clustered : mlp_rows_kernel<kVec, false>;
  if (!allow_dynamic_shared_memory(reinterpret_cast<const void*>(kernel), smem)) {
    fail("mlp", "a 16-row tile needs " + std::to_string(smem) +
                    " bytes of shared memory, more than the device allows per block");
  }
  if (clusters) {
    launch_clusters(kernel, static_cast<unsigned>(tiles * kClusterBlocks), kThreads, smem,
                    kClusterBlocks, LaunchOrder::kFull, o.x, o.xs0, o.xs1, o.rows, o.layers.table,
                    ld, o.res, o.rs0, o.rs1, o.y_data);
  } else {
    kernel<<<static_cast<unsigned>(tiles), kThreads, smem, stream()>>>(
        o.x, o.xs0, o.xs1, o.rows, o.layers.table, ld, o.res, o.rs0, o.rs1, o.y_data);
  }
}

}  // namespace

Tensor mlp_fused_cuda(const Tensor& x, const std::vector<Tensor>& weights,
                      const std::vector<Tensor>& biases, const Tensor& residual,
                      bool allow_clusters) {
  static constexpr const char* kOp = "mlp";
  const MlpRowsOperands o =
      mlp_rows_operands(kOp, "the fused kernel", x, weights, biases, residual);
  if (o.rows == 0) return o.y;
  // Shared-memory row stride: a whole number of float4 (the rows' chunk reads stay aligned).
  const int ld = static_cast<int>((o.layers.max_width + 3) / 4 * 4);
  if (o.layers.vec) {
    launch<true>(o, ld, allow_clusters);
  } else {
    launch<false>(o, ld, allow_clusters);
  }
  check_launch(kOp);
  return o.y;
}

}  // namespace um::nn::detail
