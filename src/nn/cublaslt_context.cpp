// File: src/nn/cublaslt_context.cpp
// Purpose: see cublaslt_context.h. Row-major C[m, n] = A[m, k] B[k, n] is computed as the
// column-major product C^T[n, m] = B^T[n, k] A^T[k, m]: cuBLASLt's "A" is our B and its "B" is our
// A. A row-major view with cs == 1 read column-major with ld = rs IS its transpose (op N); a view
// with rs == 1 is the matrix itself read column-major with ld = cs (op T). Either way op(stored)
// is the view's transpose, which is what the column-major product needs.
// Compiled only with the CUDA backend (the file is globbed with the CPU sources).
// Per thread: the cuBLASLt handle and the plans (host objects). Per call: the workspace, from the
// current DevicePool (see lt_gemm below), never a buffer that outlives or is shared beyond it.
// A residual (LtGemm::residual) is cuBLASLt's C input with beta = 1 and our c its D output: same
// layout, so D = alpha * A @ B + residual (+ bias by the epilogue) costs no extra pass.
// LtGemm::relu selects the RELU / RELU_BIAS epilogue: max(0, .) on the float32 result before
// D's rounding (nn::linear_act), part of the plan key like the bias.
#ifdef UM_WITH_CUDA
#include "nn/cublaslt_context.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/stream_context.h"
#include "nn/op_util.h"

#define UM_LT_CHECK(expr) \
  UM_CUDA_CHECK_GEN(expr, CUBLAS_STATUS_SUCCESS, cublasLtGetStatusString, "cuBLASLt")

namespace um::nn::detail {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;

// How a view is handed to cuBLASLt: op(stored column-major [rows, cols] with ld) == view^T.
struct LtOperand {
  cublasOperation_t op;
  int64_t rows, cols, ld;
};

bool describe(const LtMatrix& v, int64_t r, int64_t c, LtOperand* out) {
  if (v.cs == 1 && (v.rs >= std::max<int64_t>(c, 1) || r == 1)) {
    *out = {CUBLAS_OP_N, c, r, std::max<int64_t>(r == 1 ? c : v.rs, 1)};
    return true;
  }
  if (v.rs == 1 && (v.cs >= std::max<int64_t>(r, 1) || c == 1)) {
    *out = {CUBLAS_OP_T, r, c, std::max<int64_t>(c == 1 ? r : v.cs, 1)};
    return true;
  }
  return false;
}

// Largest power of two (<= 256) dividing the address and the batch stride in bytes: what the
// heuristic may assume about the buffer (its default, 256, would pick kernels that fault on
// slices such as the k part of a packed qkv projection).
uint32_t alignment(const void* p, int64_t batch_stride_bytes, int64_t batch) {
  uint64_t a = reinterpret_cast<uintptr_t>(p) | 256u;
  if (batch > 1 && batch_stride_bytes != 0) a |= static_cast<uint64_t>(batch_stride_bytes);
  return static_cast<uint32_t>(a & (~a + 1));
}

struct Plan {
  bool supported = true;  // false: cuBLASLt offered no algorithm, gemm_fallback runs
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace_bytes = 0;  // what the chosen algorithm needs (<= kWorkspaceBytes)
};

class LtContext {
 public:
  LtContext() { UM_LT_CHECK(cublasLtCreate(&handle_)); }
  ~LtContext() {
    // Thread exit (possibly at process exit, after the driver shut down): statuses ignored.
    for (auto& [key, p] : plans_) {
      cublasLtMatrixLayoutDestroy(p.la);
      cublasLtMatrixLayoutDestroy(p.lb);
      cublasLtMatrixLayoutDestroy(p.lc);
      cublasLtMatmulDescDestroy(p.desc);
    }
    if (handle_) cublasLtDestroy(handle_);
  }
  LtContext(const LtContext&) = delete;
  LtContext& operator=(const LtContext&) = delete;

  cublasLtHandle_t handle() const { return handle_; }
  std::map<std::vector<int64_t>, Plan>& plans() { return plans_; }

 private:
  cublasLtHandle_t handle_ = nullptr;
  std::map<std::vector<int64_t>, Plan> plans_;
};

LtContext& context() {
  thread_local std::unordered_map<int, std::unique_ptr<LtContext>> per_device;
  int device = 0;
  UM_CUDA_CHECK(cudaGetDevice(&device));
  auto& slot = per_device[device];
  if (!slot) slot = std::make_unique<LtContext>();
  return *slot;
}

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld,
                                   int64_t batch, int64_t batch_stride) {
  cublasLtMatrixLayout_t l = nullptr;
  UM_LT_CHECK(cublasLtMatrixLayoutCreate(&l, type, static_cast<uint64_t>(rows),
                                         static_cast<uint64_t>(cols), ld));
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    UM_LT_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                                 sizeof(count)));
    UM_LT_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                 &batch_stride, sizeof(batch_stride)));
  }
  return l;
}

Plan make_plan(LtContext& ctx, const LtGemm& g, const LtOperand& oa, const LtOperand& ob,
               cudaDataType_t type, cudaDataType_t c_type, const uint32_t align[4]) {
  Plan p;
  UM_LT_CHECK(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // cuBLASLt's A is our B (op ob), its B is our A (op oa).
  const int32_t ta = ob.op, tb = oa.op;
  UM_LT_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  UM_LT_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  // The epilogue: bias and/or ReLU on the float32 result before D's one rounding (RELU_BIAS is
  // relu(acc + bias), the order of linear then ReLU).
  if (g.bias || g.relu) {
    const uint32_t epi = g.bias ? (g.relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                : CUBLASLT_EPILOGUE_RELU;
    UM_LT_CHECK(
        cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
  }
  if (g.bias) {
    const int32_t bias_type = type;
    UM_LT_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                               &bias_type, sizeof(bias_type)));
    UM_LT_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias,
                                               sizeof(g.bias)));
  }
  p.la = make_layout(type, ob.rows, ob.cols, ob.ld, g.batch, g.b.batch_stride);
  p.lb = make_layout(type, oa.rows, oa.cols, oa.ld, g.batch, g.a.batch_stride);
  const int64_t ldc = g.ldc > 0 ? g.ldc : g.n;
  p.lc = make_layout(c_type, g.n, g.m, ldc, g.batch, g.m * ldc);

  cublasLtMatmulPreference_t pref = nullptr;
  UM_LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  std::unique_ptr<void, void (*)(void*)> guard(pref, [](void* q) {
    cublasLtMatmulPreferenceDestroy(static_cast<cublasLtMatmulPreference_t>(q));
  });
  const uint64_t ws = kWorkspaceBytes;
  UM_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                   &ws, sizeof(ws)));
  const cublasLtMatmulPreferenceAttributes_t which[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; ++i) {
    UM_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, which[i], &align[i], sizeof(uint32_t)));
  }
  cublasLtMatmulHeuristicResult_t result{};
  int returned = 0;
  UM_LT_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx.handle(), p.desc, p.la, p.lb, p.lc, p.lc, pref, 1,
                                             &result, &returned));
  if (returned < 1 || result.state != CUBLAS_STATUS_SUCCESS) {
    p.supported = false;
    return p;
  }
  p.algo = result.algo;
  p.workspace_bytes = result.workspaceSize;
  return p;
}

}  // namespace

bool lt_operand_ok(const LtMatrix& v, int64_t rows, int64_t cols) {
  LtOperand o;
  return describe(v, rows, cols, &o);
}

void lt_gemm(const LtGemm& g) {
  static constexpr const char* kOp = "gemm (cuBLASLt)";
  if (g.dtype != DType::kF32 && g.dtype != DType::kF16) {
    fail(kOp, std::string("unsupported dtype ") + dtype_name(g.dtype));
  }
  if (g.m < 1 || g.n < 1 || g.k < 1 || g.batch < 1) fail(kOp, "empty problem");
  if (g.c_float32 && g.bias) fail(kOp, "a float32 result with a bias is not supported");
  if (g.c_float32 && g.residual) {
    fail(kOp, "a float32 result with a residual is not supported");
  }
  if (g.ldc != 0 && g.ldc < g.n) fail(kOp, "ldc " + std::to_string(g.ldc) + " < n");
  const int64_t ldc = g.ldc > 0 ? g.ldc : g.n;
  for (int64_t v : {g.m, g.n, g.k, g.batch}) {
    if (v > INT_MAX) fail(kOp, "dimension " + std::to_string(v) + " exceeds int32");
  }
  LtOperand oa, ob;
  if (!describe(g.a, g.m, g.k, &oa) || !describe(g.b, g.k, g.n, &ob)) {
    fail(kOp, "operand strides are not a BLAS layout (the caller must pass a contiguous copy)");
  }
  const cudaDataType_t type = g.dtype == DType::kF32 ? CUDA_R_32F : CUDA_R_16F;
  // Float16 A and B with a float32 C (and D): a documented cuBLASLt combination under
  // CUBLAS_COMPUTE_32F with float32 scale (the same as cublasGemmEx's SGEMMEx case).
  const cudaDataType_t c_type = g.c_float32 ? CUDA_R_32F : type;
  const int64_t es = static_cast<int64_t>(dtype_size(g.dtype));
  const int64_t ces = g.c_float32 ? int64_t{4} : es;
  // cuBLASLt order: A (our b), B (our a), C (the residual when there is one, else our c: with
  // beta = 0 C is not read), D (our c).
  const void* c_in = g.residual ? g.residual : g.c;
  const uint32_t align[4] = {alignment(g.b.data, g.b.batch_stride * es, g.batch),
                             alignment(g.a.data, g.a.batch_stride * es, g.batch),
                             alignment(c_in, g.m * ldc * ces, g.batch),
                             alignment(g.c, g.m * ldc * ces, g.batch)};
  const std::vector<int64_t> key = {static_cast<int64_t>(g.dtype), g.m, g.n, g.k, g.batch,
                                    oa.op, oa.rows, oa.cols, oa.ld, g.a.batch_stride,
                                    ob.op, ob.rows, ob.cols, ob.ld, g.b.batch_stride,
                                    g.bias != nullptr,
                                    g.bias ? alignment(g.bias, 0, 1) : 0,
                                    align[0], align[1], align[2], align[3],
                                    g.residual != nullptr, g.c_float32 ? 1 : 0, ldc,
                                    g.relu ? 1 : 0};  // the epilogue is part of the plan
  LtContext& ctx = context();
  auto it = ctx.plans().find(key);
  if (it == ctx.plans().end()) {
    it = ctx.plans().emplace(key, make_plan(ctx, g, oa, ob, type, c_type, align)).first;
  }
  Plan& p = it->second;
  if (!p.supported) {
    gemm_fallback(g);
    return;
  }
  if (g.bias) {
    UM_LT_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias,
                                               sizeof(g.bias)));
  }
  // The workspace is a Tensor from the CURRENT DevicePool, like cuDNN's: a captured frame graph
  // then owns its workspace (its processor's pool) instead of sharing a per-thread buffer, which
  // (a) would be freed when the capturing thread exits while the graph still replays it, and
  // (b) would be written at the same time by the graphs of two processors (several streams)
  // running concurrently on their own CUDA streams. Back to the pool after the call; the pool's
  // reuse is stream-ordered.
  Tensor workspace;
  if (p.workspace_bytes > 0) {
    workspace = Tensor::empty({static_cast<int64_t>(p.workspace_bytes)}, DType::kU8,
                              Device::cuda());
  }
  // beta = 1 with C = the residual: D = alpha * A @ B + residual (+ bias), one rounding of D.
  const float alpha = g.alpha, beta = g.residual ? 1.f : 0.f;
  UM_LT_CHECK(cublasLtMatmul(ctx.handle(), p.desc, &alpha, g.b.data, p.la, g.a.data, p.lb, &beta,
                             c_in, p.lc, g.c, p.lc, &p.algo,
                             workspace.defined() ? workspace.raw_data() : nullptr,
                             p.workspace_bytes, um::cuda::current_stream()));
}

}  // namespace um::nn::detail
#endif  // UM_WITH_CUDA
