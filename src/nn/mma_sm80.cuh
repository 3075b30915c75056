// File: src/nn/mma_sm80.cuh
// Purpose: the warp-level tensor-core building blocks (PTX, sm_80 and later) that the own
// kernels share: ldmatrix fragment loads, the m16n8k16 float16 and m16n8k8 TF32 products with
// float32 accumulators, the 3xTF32 operand split, and 16-byte cp.async copies (waited for all at
// once, or pipelined in groups; zero-filling past an operand's edge).
// One definition instead of one per kernel file (window_attention_cuda.cu, conv2d_patch_cuda.cu,
// conv2d_pointwise_cuda.cu). Internal to um_nn (.cu files only).
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
// Two 8x8 matrices: lanes 0-15 give the row addresses (lane 8 i + r: row r of matrix i).
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], const __half* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(shared_address(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __half* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
}
// 16 bytes global -> shared, or 16 zero bytes when !valid (cp.async's src-size 0: nothing is
// read; gmem must still be a mapped address). Completed like cp_async16.
__device__ __forceinline__ void cp_async16_or_zero(void* smem, const void* gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(smem)),
               "l"(__cvta_generic_to_global(gmem)), "r"(valid ? 16 : 0)
               : "memory");
}

// "3xTF32" operand split (the own float32 conv kernels): tf32_round(v) = v rounded to TF32's
// 10-bit mantissa (half an ulp added to the magnitude's bit pattern, then the 13 low bits
// cleared); split_tf32 gives hi = that and lo = v - hi (exact in float32), lo handed to the
// tensor cores as is: they read a TF32 operand's top 19 bits, so lo is truncated there (~2^-21
// of v, where rounding it would give ~2^-22). Two integer ops and a subtraction per value, where
// two cvt.rna.tf32 made the instruction issue the bound of kernels that split one value per
// product (measured on an H200, session 9: this split made the pointwise kernel 20-35 % faster).
__device__ __forceinline__ float tf32_round(float v) {
  return __uint_as_float((__float_as_uint(v) + 0x1000u) & 0xffffe000u);
}
__device__ __forceinline__ void split_tf32(float v, uint32_t& hi, uint32_t& lo) {
  const float h = tf32_round(v);
  hi = __float_as_uint(h);
  lo = __float_as_uint(v - h);
}
// d += a (16x8, row-major) * b (8x8, "col"), TF32 inputs, float32 accumulators. Fragments (PTX
// ISA): a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4); b0 (k t, col g), b1 (k t+4, col g);
// d as for m16n8k16 below.
__device__ __forceinline__ void mma_1688_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                              uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
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
