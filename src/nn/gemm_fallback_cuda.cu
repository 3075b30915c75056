// File: src/nn/gemm_fallback_cuda.cu
// Purpose: the safety net behind lt_gemm (cublaslt_context.h): when cuBLASLt's heuristic offers
// no algorithm for a configuration (an unusual alignment/leading-dimension/epilogue combination),
// the GEMM still runs, here: one thread per output element, float32 accumulation, any strides,
// bias added per column and the residual (LtGemm::residual, C's layout) per element, all in the
// float32 accumulator, then the ReLU when LtGemm::relu asks for it, rounded once (as cuBLASLt's beta = 1 path). Slow but obviously correct;
// the models' shapes are not expected to need it.
#include "nn/cublaslt_context.h"
#include "nn/cuda_op_util.cuh"

namespace um::nn::detail {
namespace {

template <typename T, typename TC>
__global__ void gemm_fallback_kernel(const T* a, LtMatrix va, const T* b, LtMatrix vb, TC* c,
                                     const T* bias, const TC* residual, int64_t batch, int64_t m,
                                     int64_t n, int64_t k, float alpha, int64_t ldc,
                                     bool relu) {
  const int64_t total = batch * m * n;
  for (int64_t t = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; t < total;
       t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t j = t % n, i = (t / n) % m, bt = t / (m * n);
    const T* ar = a + bt * va.batch_stride + i * va.rs;
    const T* bc = b + bt * vb.batch_stride + j * vb.cs;
    float acc = 0.f;
    for (int64_t p = 0; p < k; ++p) acc += to_f(ar[p * va.cs]) * to_f(bc[p * vb.rs]);
    acc *= alpha;
    const int64_t at = (bt * m + i) * ldc + j;
    if (residual) acc += to_f(residual[at]);
    if (bias) acc += to_f(bias[j]);
    if (relu) acc = acc > 0.f ? acc : 0.f;  // cuBLASLt's RELU(_BIAS) epilogue: after the sum
    c[at] = from_f<TC>(acc);
  }
}

}  // namespace

void gemm_fallback(const LtGemm& g) {
  const int64_t ldc = g.ldc > 0 ? g.ldc : g.n;  // C's row stride (batch stride m * ldc)
  if (g.c_float32 && g.residual) {
    fail("gemm (fallback)", "a float32 result with a residual is not supported");
  }
  UM_DISPATCH_FLOAT(g.dtype, T, {
    if (g.c_float32) {  // float32 result whatever the inputs (no residual: refused above)
      gemm_fallback_kernel<T, float><<<blocks_for(g.batch * g.m * g.n), 256, 0, stream()>>>(
          static_cast<const T*>(g.a.data), g.a, static_cast<const T*>(g.b.data), g.b,
          static_cast<float*>(g.c), static_cast<const T*>(g.bias),
          static_cast<const float*>(nullptr), g.batch, g.m, g.n, g.k, g.alpha, ldc, g.relu);
    } else {
      gemm_fallback_kernel<T, T><<<blocks_for(g.batch * g.m * g.n), 256, 0, stream()>>>(
          static_cast<const T*>(g.a.data), g.a, static_cast<const T*>(g.b.data), g.b,
          static_cast<T*>(g.c), static_cast<const T*>(g.bias), static_cast<const T*>(g.residual),
          g.batch, g.m, g.n, g.k, g.alpha, ldc, g.relu);
    }
  });
  check_launch("gemm (fallback)");
}

}  // namespace um::nn::detail
