// File: src/nn/cluster_launch.cuh
// Purpose: launching a kernel as thread-block clusters (sm_90+), shared by the ops that split one
// unit of work over a cluster's blocks and exchange data through distributed shared memory
// (grouped_mlp, mlp): whether a cluster variant can run here, the cudaLaunchKernelEx call, and
// the device-side place of a block in its cluster. Internal to um_nn (included by .cu files only).
// Usage:
//   const auto clustered = my_kernel<true>;
//   if (cluster_variant_runs(reinterpret_cast<const void*>(clustered))) {
//     launch_clusters(clustered, units * 8, threads, smem, 8, LaunchOrder::kFull, args...);
//   } else {
//     my_kernel<false><<<units, threads, smem, stream()>>>(args...);
//   }
#pragma once

#include <cooperative_groups.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "core/cuda/cuda_check.h"
#include "nn/cuda_op_util.cuh"
#include "nn/programmatic_launch.cuh"

// Thread-block clusters exist in sm_90+ device code only: in a device pass for an older
// architecture a cluster variant compiles to a trap, and the host never launches it there
// (cluster_variant_runs checks the loaded binary's architecture). UM_NN_DEVICE_CLUSTERS guards
// the cluster-only device code (distributed shared memory) of a kernel's cluster variant.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define UM_NN_DEVICE_CLUSTERS 0
#else
#define UM_NN_DEVICE_CLUSTERS 1
#endif

namespace um::nn::detail {

// Whether the cluster variant `kernel` runs on the current device: the device launches clusters
// (compute capability 9.0+) and the binary loaded for it is sm_90+ code (a build for older
// architectures only has the variant's trap). The kernel's binary version is cached per (kernel,
// device): cudaFuncGetAttributes fills a whole struct and the ops ask on every launch.
bool cluster_variant_runs(const void* kernel);

// `kernel` on `blocks` blocks of `threads` in clusters of `cluster` blocks along x (blocks a
// multiple of cluster), `smem` bytes of dynamic shared memory, on the current stream; `order`
// kProgrammatic only for a kernel that follows programmatic_launch.cuh's rule.
template <typename... Params, typename... Args>
void launch_clusters(void (*kernel)(Params...), unsigned blocks, unsigned threads, size_t smem,
                     unsigned cluster, LaunchOrder order, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(threads);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream();
  cudaLaunchAttribute attr[2];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = cluster;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[1].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = order == LaunchOrder::kProgrammatic ? 2 : 1;
  UM_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

// This block's rank in its cluster and the cluster's size; 0 and 1 in a kernel variant launched
// without clusters (kCluster false).
template <bool kCluster>
__device__ __forceinline__ void cluster_place(int& rank, int& blocks) {
  rank = 0;
  blocks = 1;
  if constexpr (kCluster) {
#if UM_NN_DEVICE_CLUSTERS
    rank = static_cast<int>(cooperative_groups::this_cluster().block_rank());
    blocks = static_cast<int>(cooperative_groups::this_cluster().num_blocks());
#else
    __trap();
#endif
  }
}

// The cluster's barrier (with its shared-memory ordering across the cluster); nothing without
// clusters.
template <bool kCluster>
__device__ __forceinline__ void cluster_sync() {
  if constexpr (kCluster) {
#if UM_NN_DEVICE_CLUSTERS
    cooperative_groups::this_cluster().sync();
#endif
  }
}

}  // namespace um::nn::detail
