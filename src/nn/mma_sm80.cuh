// File: src/nn/mma_sm80.cuh
// Purpose: the warp-level tensor-core building blocks (PTX, sm_80 and later) that the own
// kernels share: ldmatrix fragment loads, the m16n8k16 float16 product with float32
// accumulators, and 16-byte cp.async copies (waited for all at once, or pipelined in groups).
// One definition instead of one per kernel file (window_attention_cuda.cu, conv2d_patch_cuda.cu,
// conv2d_pointwise_tf32_cuda.cu). Internal to um_nn (.cu files only).
// Fragment layouts (PTX ISA, mma.m16n8k16 with .f16 inputs; g = lane / 4, t = lane % 4):
//   A (16 x 16, row-major): reg 0 = (row g, cols 2t, 2t+1), reg 1 = (row g+8, cols 2t..),
//     reg 2 = (row g, cols 2t+8..), reg 3 = (row g+8, cols 2t+8..);
//   B (16 x 8, "col"): reg 0 = (rows 2t, 2t+1, col g), reg 1 = (rows 2t+8, 2t+9, col g);
//   D (16 x 8, float): d0, d1 = (row g, cols 2t, 2t+1), d2, d3 = (row g+8, cols 2t, 2t+1).
// ldmatrix.m8n8.x4: lane 8 i + r gives the address of row r of matrix i (16 bytes, aligned);
// register i of lane l holds matrix i's (row l / 4, cols 2 (l % 4), +1), or with .trans (rows
// 2 (l % 4), +1 of col l / 4). Each 32-bit register holds two halves, the lower index low.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

namespace um::nn::detail {

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// 16 bytes global -> shared, asynchronous (both 16-byte aligned); completed by cp_async_wait_all.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(smem)),
               "l"(__cvta_generic_to_global(gmem))
               : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.wait_all;\n" ::: "memory");
}
// Pipelined copies: commit closes the group of this thread's cp.async issued since the last
// commit; wait<n> returns once at most n of its committed groups are still in flight.
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __half* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __half* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
}
// d += a (16x16) * b (16x8), float32 accumulators.
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

}  // namespace um::nn::detail
