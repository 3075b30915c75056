// File: src/nn/grouped_mlp_cuda.cu
// Purpose: CUDA implementation of grouped_mlp (see ops_mlp.h): G small MLPs in ONE kernel.
// Method: one block per group, or (sm_90+) a cluster of kClusterBlocks blocks per group that
// split every layer's rows and exchange the layer's output through distributed shared memory.
// The group's input row is read (any strides) into shared memory as
// float32; for each layer, every warp computes 4 output rows at a time (4 independent weight
// loads in flight per lane: 16-byte loads when each weight row is a whole number of 16-byte units,
// else element loads), lanes splitting the input dim, a butterfly reduction, then bias, the
// rounding to the data dtype (what the unfused linear's output gets) and the ReLU between layers;
// the layer's output row goes to the other shared buffer (the last layer's to y). The layers'
// widths are small (SAM: 256/256/32 per row): the weights dominate and are read once.
#include <cooperative_groups.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "nn/cluster_launch.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/mlp_layer_table.h"
#include "nn/ops_mlp.h"

namespace um::nn::detail {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 512;
constexpr int kRowsPerStep = 4;

// Blocks per group in the cluster variant (sm_90 thread-block clusters): the group's layer rows
// are split over the cluster's blocks, and after each layer every block gathers the whole
// output row from the others' shared memory (distributed shared memory). Why: with one block per
// group, SAM's hypernetworks (4 groups) and IoU head (1 group, float32) streamed their weights
// through 4 and 1 SMs: ncu on an H200 had them at 22 and 27 us, a memory round trip per step.
constexpr int kClusterBlocks = 8;

// T: the parameters' and the output's dtype; TX: x's (float16 x with float32 parameters).
// kCluster: launched in clusters of kClusterBlocks blocks per group (see above), else one block
// per group.
template <typename T, typename TX, bool kVec, bool kCluster>
__global__ void grouped_mlp_kernel(const TX* __restrict__ x, int64_t xs0, int64_t xs1,
                                   MlpLayerTable layers, int max_width, T* __restrict__ y) {
  extern __shared__ float smem[];
  float* cur = smem;
  float* nxt = smem + max_width;
  int rank, blocks;  // this block's place in its group's cluster
  cluster_place<kCluster>(rank, blocks);
  const int64_t g = blockIdx.x / blocks;
  for (int k = threadIdx.x; k < layers.in[0]; k += blockDim.x) cur[k] = to_f(x[g * xs0 + k * xs1]);
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = blockDim.x / 32;
  for (int l = 0; l < layers.n; ++l) {
    const int in = layers.in[l], out = layers.out[l];
    const bool last = l + 1 == layers.n;
    const T* w = static_cast<const T*>(layers.w[l]) + g * out * in;
    const T* b = layers.b[l] ? static_cast<const T*>(layers.b[l]) + g * out : nullptr;
    // This block's rows [j_begin, j_end) of the layer (all of them without clusters).
    const int per_block = (out + blocks - 1) / blocks;
    const int j_begin = rank * per_block;
    const int j_end = j_begin + per_block < out ? j_begin + per_block : out;
    for (int j0 = j_begin + warp * kRowsPerStep; j0 < j_end; j0 += nwarps * kRowsPerStep) {
      float acc[kRowsPerStep];
#pragma unroll
      for (int r = 0; r < kRowsPerStep; ++r) acc[r] = 0.f;
      if constexpr (kVec) {
        using P = Pack16<T>;
        constexpr int V = P::kN;
        for (int k0 = lane * V; k0 < in; k0 += 32 * V) {
          float xv[V];
#pragma unroll
          for (int v = 0; v < V; ++v) xv[v] = cur[k0 + v];
#pragma unroll
          for (int r = 0; r < kRowsPerStep; ++r) {
            const int j = j0 + r;
            if (j < j_end) {
              const P p = *reinterpret_cast<const P*>(w + static_cast<int64_t>(j) * in + k0);
#pragma unroll
              for (int v = 0; v < V; ++v) acc[r] = fmaf(to_f(p.v[v]), xv[v], acc[r]);
            }
          }
        }
      } else {
        for (int k = lane; k < in; k += 32) {
          const float xv = cur[k];
#pragma unroll
          for (int r = 0; r < kRowsPerStep; ++r) {
            const int j = j0 + r;
            if (j < j_end) acc[r] = fmaf(to_f(w[static_cast<int64_t>(j) * in + k]), xv, acc[r]);
          }
        }
      }
#pragma unroll
      for (int r = 0; r < kRowsPerStep; ++r) {
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], off);
      }
      if (lane == 0) {
#pragma unroll
        for (int r = 0; r < kRowsPerStep; ++r) {
          const int j = j0 + r;
          if (j >= j_end) break;
          const T rounded = from_f<T>(acc[r] + (b ? to_f(b[j]) : 0.f));
          if (last) {
            y[g * out + j] = rounded;
          } else {
            const float v = to_f(rounded);
            nxt[j] = v < 0.f ? 0.f : v;  // ReLU (a NaN stays NaN, as torch.relu)
          }
        }
      }
    }
#if UM_NN_DEVICE_CLUSTERS
    if constexpr (kCluster) {
      if (!last) {
        // Every block's slice of nxt is written (the cluster barrier orders shared memory across
        // the cluster); copy the other blocks' slices into this block's nxt. Nobody writes a
        // buffer another block may still read: the next layer writes the OTHER buffer, whose
        // remote reads ended before everyone passed this layer's barrier.
        cg::cluster_group cluster = cg::this_cluster();
        cluster.sync();
        for (int j = threadIdx.x; j < out; j += blockDim.x) {
          const int owner = j / per_block;
          if (owner != rank) nxt[j] = *cluster.map_shared_rank(nxt + j, owner);
        }
      }
    }
#endif
    __syncthreads();
    float* t = cur;
    cur = nxt;
    nxt = t;
  }
  cluster_sync<kCluster>();  // no block's shared memory may go while others still read it
}

// One launch of the kernel: clusters of kClusterBlocks per group where they run (see
// cluster_variant_runs), else one block per group.
template <typename T, typename TX, bool kVec>
void launch_grouped(const TX* xp, int64_t xs0, int64_t xs1, const MlpLayerTable& layers, int mw,
                    T* yp, int64_t groups, size_t smem) {
  const auto clustered = grouped_mlp_kernel<T, TX, kVec, true>;
  if (cluster_variant_runs(reinterpret_cast<const void*>(clustered))) {
    launch_clusters(clustered, static_cast<unsigned>(groups * kClusterBlocks), kThreads, smem,
                    kClusterBlocks, LaunchOrder::kFull, xp, xs0, xs1, layers, mw, yp);
    return;
  }
  grouped_mlp_kernel<T, TX, kVec, false>
      <<<static_cast<unsigned>(groups), kThreads, smem, stream()>>>(xp, xs0, xs1, layers, mw, yp);
}

}  // namespace

Tensor grouped_mlp_cuda(const Tensor& x, const std::vector<Tensor>& weights,
                        const std::vector<Tensor>& biases) {
  static constexpr const char* kOp = "grouped_mlp";
  require_cuda_float(kOp, x, "x");  // shapes, dtypes and devices checked by grouped_mlp
  const int64_t g = x.size(0);
  // weights [G, out, in] per layer (mlp_layer_table.h)
  const MlpLayerArgs args = mlp_layer_args(x.size(1), weights, biases);
  const MlpLayerTable& layers = args.table;
  const bool vec = args.vec;
  const DType pd = weights[0].dtype();  // x's, or float32 on a float16 x (checked)
  Tensor y = Tensor::empty({g, layers.out[layers.n - 1]}, pd, x.device());
  if (g == 0) return y;
  const size_t smem = 2 * static_cast<size_t>(args.max_width) * sizeof(float);
  const int mw = static_cast<int>(args.max_width);
  const int64_t xs0 = x.strides()[0], xs1 = x.strides()[1];
  if (pd != x.dtype()) {  // float16 x, float32 parameters
    const __half* xp = static_cast<const __half*>(x.raw_data());
    float* yp = static_cast<float*>(y.raw_data());
    if (vec) {
      launch_grouped<float, __half, true>(xp, xs0, xs1, layers, mw, yp, g, smem);
    } else {
      launch_grouped<float, __half, false>(xp, xs0, xs1, layers, mw, yp, g, smem);
    }
  } else {
    UM_DISPATCH_FLOAT(x.dtype(), T, {
      const T* xp = static_cast<const T*>(x.raw_data());
      T* yp = static_cast<T*>(y.raw_data());
      if (vec) {
        launch_grouped<T, T, true>(xp, xs0, xs1, layers, mw, yp, g, smem);
      } else {
        launch_grouped<T, T, false>(xp, xs0, xs1, layers, mw, yp, g, smem);
      }
    });
  }
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
