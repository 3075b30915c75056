// File: src/nn/cluster_launch.cuh
// Purpose: launching a kernel as thread-block clusters (sm_90+), shared by the ops that split one
// unit of work over a cluster's blocks and exchange data through distributed shared memory
// (grouped_mlp, mlp): whether a cluster variant can run here, and the cudaLaunchKernelEx call.
// Internal to um_nn (included by .cu files only).
// Usage:
//   const auto clustered = my_kernel<true>;
//   if (cluster_variant_runs(reinterpret_cast<const void*>(clustered))) {
//     launch_clusters(clustered, units * 8, threads, smem, 8, args...);
//   } else {
//     my_kernel<false><<<units, threads, smem, stream()>>>(args...);
//   }
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "core/cuda/cuda_check.h"
#include "nn/cuda_op_util.cuh"

namespace um::nn::detail {

// Whether the cluster variant `kernel` runs on the current device: the device launches clusters
// (compute capability 9.0+) and the binary loaded for it is sm_90+ code (a build for older
// architectures only has the variant's trap). The kernel's binary version is cached per (kernel,
// device): cudaFuncGetAttributes fills a whole struct and the ops ask on every launch.
bool cluster_variant_runs(const void* kernel);

// `kernel` on `blocks` blocks of `threads` in clusters of `cluster` blocks along x (blocks a
// multiple of cluster), `smem` bytes of dynamic shared memory, on the current stream.
template <typename... Params, typename... Args>
void launch_clusters(void (*kernel)(Params...), unsigned blocks, unsigned threads, size_t smem,
                     unsigned cluster, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(threads);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream();
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = cluster;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  UM_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

}  // namespace um::nn::detail
