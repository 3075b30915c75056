// File: src/nn/conv2d_implicit_gemm_cuda.cu
// Purpose: the own implicit-GEMM convolution with its fused epilogue (conv2d_implicit_gemm_cuda.h
// says why and what precision). The GEMM: rows = output pixels (batch folded in), columns =
// output channels, reduction = Cin * kh * kw (the filter row, as PyTorch stores it).
// Block: 64 pixels x kTileN channels (16/32/64: D-FINE's backbone has 16-channel convs), 4 warps,
// each a (kWarpM x kWarpN) tile of 16x16 WMMA accumulators. Per step the block stages kChunkK
// reduction columns: the input patch values ("im2col", gathered straight from NCHW; pixels along
// threads, so a warp reads consecutive pixels of one input row) and the filter rows (along k,
// coalesced) into shared memory; the next step's values are loaded into registers while the
// tensor cores work on this one. The reduction index -> (input offset, dy, dx) decode (divisions)
// is done once per block into a shared table, not per element. Epilogue: the accumulators go
// through shared memory (pixel-major per channel) so every warp writes consecutive pixels of one
// output plane (coalesced NCHW stores), adding bias, activation, affine and residual in float32.
#include "nn/conv2d_implicit_gemm_cuda.h"

#include <cuda_fp16.h>
#include <mma.h>

#include <atomic>
#include <cstdint>

#include "core/cuda/device_attribute.h"
#include "nn/activation_cuda.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/mma_sm80.cuh"

namespace um::nn::detail {
namespace {

namespace wmma = nvcuda::wmma;

constexpr const char* kOp = "conv2d_bias_act";
constexpr int kThreads = 128;   // 4 warps
constexpr int kTileM = 64;      // output pixels per block (kThreads is a multiple: see below)
constexpr int kMaxTableK = 2304;  // Cin * kh * kw the offset table holds (256 channels x 3x3)
// kAuto takes the own kernel for convs of at least this many output pixels (400 blocks of 64).
// Measured on an H200 (ncu, session 8, D-FINE-S + MobileSAM at 640 / 1024): there every own
// conv beat cuDNN's kernels plus the epilogue pass (D-FINE's stem and stage 1 at 160x160 and
// above: 19.7 vs 27.3 us, 114 vs 130 us for stage 1's five 3x3 convs; TinyViT's first patch-
// embedding conv: 57.7 vs 69.7 us). With fewer pixels (80x80 and below) the grid has <= 100
// blocks, and each block's chain of reduction steps (one global-memory round trip each) is
// longer than cuDNN's pipelined kernels plus their layout transforms: up to 2x slower there.
constexpr int64_t kMinPreferredPixels = 25600;
// The float16 patch kernel (conv2d_patch_cuda.cu) where kAuto takes it: outputs of at most
// 64x64 pixels. Measured on an H200 (ncu, session 8, D-FINE-S encoder, 64 channels, five convs
// per level incl. cuDNN's layout transforms and the epilogue pass): 40x40 81 vs 101 us, 20x20
// 79 vs 96 us; at 80x80 (200 blocks, two waves of one block per SM) 165 vs 108 us. Again with
// 16 output channels per block (session 10, the D-FINE-S frame): at 80x80 22-24 us per conv under
// ncu, the frame's D-FINE 1.346 -> 1.381 ms with 80x80 allowed, so the limit stays.
constexpr int64_t kMaxPatchPreferredPixels = 4096;
static_assert(kThreads % kTileM == 0, "a thread keeps one pixel for every load and store");

// The tensor-core step per element type: float16 = one 16x16x16 product; float32 = 3xTF32 on
// 16x16x8 products (see the header).
template <typename T>
struct Mma;

template <>
struct Mma<__half> {
  static constexpr bool kChunkPartials = false;
  static constexpr int kChunkK = 32;  // reduction columns staged per step
  static constexpr int kStepK = 16;
  static constexpr int kPad = 8;      // row padding in halfs (keeps 16-byte rows, breaks banks)
  using A = wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::col_major>;
  using B = wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major>;
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
  struct SplitA { A v; };
  struct SplitB { B v; };
  static __device__ __forceinline__ void load(SplitA& a, const __half* p, int ld) {
    wmma::load_matrix_sync(a.v, p, ld);
  }
  static __device__ __forceinline__ void load(SplitB& b, const __half* p, int ld) {
    wmma::load_matrix_sync(b.v, p, ld);
  }
  static __device__ __forceinline__ void mma(Acc& acc, const SplitA& a, const SplitB& b) {
    wmma::mma_sync(acc, a.v, b.v, acc);
  }
};

template <>
struct Mma<float> {
  // Each step's 16 reduction columns are summed in a fresh accumulator, added to the running
  // sum with float32 adds (round to nearest): the tensor cores' float32 accumulation aligns the
  // addends to the largest one and drops the bits below (no round to nearest), an error that
  // grows with every product added to the same accumulator (measured on an H200: 3e-5 relative
  // over 2304 columns, 1.9e-3 on D-FINE-S logits, against ~1e-6 for FFMA kernels).
  static constexpr bool kChunkPartials = true;
  static constexpr int kChunkK = 16;
  static constexpr int kStepK = 8;
  static constexpr int kPad = 4;
  using A = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
  using B = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  // hi = v rounded to TF32, lo = v - hi (exact), handed to the tensor cores unconverted
  // (mma_sm80.cuh's split_tf32 says why and what it costs).
  template <typename F>
  static __device__ __forceinline__ void split(F& hi, F& lo) {
#pragma unroll
    for (int i = 0; i < hi.num_elements; ++i) {
      const float v = hi.x[i];
      const float h = tf32_round(v);
      hi.x[i] = h;
      lo.x[i] = v - h;
    }
  }
  struct SplitA { A hi, lo; };
  struct SplitB { B hi, lo; };
  static __device__ __forceinline__ void load(SplitA& a, const float* p, int ld) {
    wmma::load_matrix_sync(a.hi, p, ld);
    split(a.hi, a.lo);
  }
  static __device__ __forceinline__ void load(SplitB& b, const float* p, int ld) {
    wmma::load_matrix_sync(b.hi, p, ld);
    split(b.hi, b.lo);
  }
  // The small products first, so they are not lost below the large one's rounding.
  static __device__ __forceinline__ void mma(Acc& acc, const SplitA& a, const SplitB& b) {
    wmma::mma_sync(acc, a.lo, b.hi, acc);
    wmma::mma_sync(acc, a.hi, b.lo, acc);
    wmma::mma_sync(acc, a.hi, b.hi, acc);
  }
};

struct ConvGeometry {
  int batch, cin, h, w, cout, oh, ow;
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, kh, kw;
  int kdim;    // cin * kh * kw
  int pixels;  // batch * oh * ow
};

// kPointwise: a 1x1 filter without padding (every tap in bounds; the offset is ci * h * w).
template <typename T, int kTileN, int kWarpM, int kWarpN, bool kPointwise>
__global__ void __launch_bounds__(kThreads)
    implicit_gemm_conv_kernel(const T* __restrict__ x, const T* __restrict__ wt,
                              const T* __restrict__ bias, const T* __restrict__ residual,
                              T* __restrict__ y, ConvGeometry g, ActAffine e) {
  using M = Mma<T>;
  constexpr int kChunkK = M::kChunkK;
  constexpr int kLdA = kTileM + M::kPad;   // A staged k-major: As[k][pixel]
  constexpr int kLdB = kChunkK + M::kPad;  // B staged channel-major: Bs[channel][k]
  constexpr int kLdC = kTileM + 4;         // accumulators: Cs[channel][pixel], float
  constexpr int kBytesA = kChunkK * kLdA * static_cast<int>(sizeof(T));
  constexpr int kBytesB = kTileN * kLdB * static_cast<int>(sizeof(T));
  constexpr int kBytesC = kTileN * kLdC * static_cast<int>(sizeof(float));
  constexpr int kStageBytes = kBytesA + kBytesB > kBytesC ? kBytesA + kBytesB : kBytesC;
  constexpr int kWarpsM = kTileM / kWarpM;
  constexpr int kFragsM = kWarpM / 16, kFragsN = kWarpN / 16;
  static_assert(kWarpsM * (kTileN / kWarpN) * 32 == kThreads, "4 warps cover the tile");
  static_assert(kBytesA % 32 == 0, "WMMA tiles need 32-byte aligned shared addresses");
  constexpr int kPerThreadA = kChunkK * kTileM / kThreads;
  constexpr int kPerThreadB = kTileN * kChunkK / kThreads;
  constexpr int kThreadsPerPixel = kThreads / kTileM;  // threads sharing one pixel (k apart)
  static_assert(kThreads % kChunkK == 0, "B loads: a thread keeps one k column");

  __shared__ __align__(128) unsigned char stage[kStageBytes];
  __shared__ int2 table[kPointwise ? 1 : kMaxTableK];  // (input offset, dy << 16 | dx) per k
  T* as = reinterpret_cast<T*>(stage);
  T* bs = reinterpret_cast<T*>(stage + kBytesA);

  const int tid = static_cast<int>(threadIdx.x);
  const int hw = g.h * g.w;
  if constexpr (!kPointwise) {
    const int taps = g.kh * g.kw;
    for (int k = tid; k < g.kdim; k += kThreads) {
      const int ci = k / taps, r = k - ci * taps;
      const int ky = r / g.kw, kx = r - ky * g.kw;
      const int dy = ky * g.dil_h, dx = kx * g.dil_w;
      table[k] = make_int2(ci * hw + dy * g.w + dx, (dy << 16) | dx);
    }
  }

  // This thread's pixel (the same one in every load and in the epilogue).
  const int m = tid % kTileM;
  const int k_lane = tid / kTileM;  // first of the k columns it loads, kThreadsPerPixel apart
  const int pixel = static_cast<int>(blockIdx.x) * kTileM + m;
  const bool pixel_ok = pixel < g.pixels;
  const int ohw = g.oh * g.ow;
  const int img = pixel_ok ? pixel / ohw : 0;
  const int p = pixel_ok ? pixel - img * ohw : 0;
  const int oy = p / g.ow, ox = p - (p / g.ow) * g.ow;
  const int iy0 = oy * g.stride_h - g.pad_h, ix0 = ox * g.stride_w - g.pad_w;
  const int pixel_base = img * g.cin * hw + iy0 * g.w + ix0;  // + table offset = the tap
  const int n0 = static_cast<int>(blockIdx.y) * kTileN;
  const int b_k = tid % kChunkK, b_n = tid / kChunkK;  // B: k column, first channel row
  constexpr int kBRowStep = kThreads / kChunkK;

  T ra[kPerThreadA], rb[kPerThreadB];
  auto load_chunk = [&](int k0) {
#pragma unroll
    for (int i = 0; i < kPerThreadA; ++i) {
      const int k = k0 + k_lane + i * kThreadsPerPixel;
      T v = from_f<T>(0.f);
      if (pixel_ok && k < g.kdim) {
        if constexpr (kPointwise) {
          v = x[pixel_base + k * hw];
        } else {
          const int2 t = table[k];
          const int iy = iy0 + (t.y >> 16), ix = ix0 + (t.y & 0xffff);
          if (static_cast<unsigned>(iy) < static_cast<unsigned>(g.h) &&
              static_cast<unsigned>(ix) < static_cast<unsigned>(g.w)) {
            v = x[pixel_base + t.x];
          }
        }
      }
      ra[i] = v;
    }
#pragma unroll
    for (int i = 0; i < kPerThreadB; ++i) {
      const int n = n0 + b_n + i * kBRowStep, k = k0 + b_k;
      rb[i] = (n < g.cout && k < g.kdim) ? wt[n * g.kdim + k] : from_f<T>(0.f);
    }
  };
  auto store_chunk = [&] {
#pragma unroll
    for (int i = 0; i < kPerThreadA; ++i) as[(k_lane + i * kThreadsPerPixel) * kLdA + m] = ra[i];
#pragma unroll
    for (int i = 0; i < kPerThreadB; ++i) bs[(b_n + i * kBRowStep) * kLdB + b_k] = rb[i];
  };

  const int warp = tid / 32;
  const int wm = warp % kWarpsM, wn = warp / kWarpsM;
  typename M::Acc acc[kFragsM][kFragsN];
#pragma unroll
  for (int i = 0; i < kFragsM; ++i) {
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) wmma::fill_fragment(acc[i][j], 0.f);
  }

  if constexpr (!kPointwise) __syncthreads();  // the table is complete
  const int chunks = (g.kdim + kChunkK - 1) / kChunkK;
  load_chunk(0);
  store_chunk();
  __syncthreads();
  typename M::Acc part[kFragsM][kFragsN];  // this step's sums (kChunkPartials only)
  for (int c = 0; c < chunks; ++c) {
    if (c + 1 < chunks) load_chunk((c + 1) * kChunkK);  // in flight during the products
    auto& sums = M::kChunkPartials ? part : acc;
    if constexpr (M::kChunkPartials) {
#pragma unroll
      for (int i = 0; i < kFragsM; ++i) {
#pragma unroll
        for (int j = 0; j < kFragsN; ++j) wmma::fill_fragment(part[i][j], 0.f);
      }
    }
#pragma unroll
    for (int kk = 0; kk < kChunkK; kk += M::kStepK) {
      typename M::SplitA a[kFragsM];
      typename M::SplitB b[kFragsN];
#pragma unroll
      for (int i = 0; i < kFragsM; ++i) M::load(a[i], as + kk * kLdA + wm * kWarpM + i * 16, kLdA);
#pragma unroll
      for (int j = 0; j < kFragsN; ++j) M::load(b[j], bs + (wn * kWarpN + j * 16) * kLdB + kk, kLdB);
#pragma unroll
      for (int i = 0; i < kFragsM; ++i) {
#pragma unroll
        for (int j = 0; j < kFragsN; ++j) M::mma(sums[i][j], a[i], b[j]);
      }
    }
    if constexpr (M::kChunkPartials) {
#pragma unroll
      for (int i = 0; i < kFragsM; ++i) {
#pragma unroll
        for (int j = 0; j < kFragsN; ++j) {
#pragma unroll
          for (int t = 0; t < acc[i][j].num_elements; ++t) acc[i][j].x[t] += part[i][j].x[t];
        }
      }
    }
    __syncthreads();
    if (c + 1 < chunks) {
      store_chunk();
      __syncthreads();
    }
  }

  // Epilogue through shared memory (the staging buffers are free after the last barrier).
  float* cs = reinterpret_cast<float*>(stage);
#pragma unroll
  for (int i = 0; i < kFragsM; ++i) {
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
      wmma::store_matrix_sync(cs + (wn * kWarpN + j * 16) * kLdC + wm * kWarpM + i * 16,
                              acc[i][j], kLdC, wmma::mem_col_major);
    }
  }
  __syncthreads();
  if (!pixel_ok) return;
  const int out_base = img * g.cout * ohw + p;
#pragma unroll 4
  for (int nl = k_lane; nl < kTileN; nl += kThreadsPerPixel) {
    const int n = n0 + nl;
    if (n >= g.cout) break;
    float v = cs[nl * kLdC + m];
    if (bias != nullptr) v += to_f(bias[n]);
    v = e(v);
    const int at = out_base + n * ohw;
    if (residual != nullptr) v += to_f(residual[at]);
    y[at] = from_f<T>(v);
  }
}

template <typename T, int kTileN, int kWarpM, int kWarpN>
void launch_tile(bool pointwise, const T* x, const T* w, const T* bias, const T* residual, T* y,
                 const ConvGeometry& g, const ActAffine& e) {
  const dim3 grid(static_cast<unsigned>((g.pixels + kTileM - 1) / kTileM),
                  static_cast<unsigned>((g.cout + kTileN - 1) / kTileN));
  if (pointwise) {
    implicit_gemm_conv_kernel<T, kTileN, kWarpM, kWarpN, true>
        <<<grid, kThreads, 0, stream()>>>(x, w, bias, residual, y, g, e);
  } else {
    implicit_gemm_conv_kernel<T, kTileN, kWarpM, kWarpN, false>
        <<<grid, kThreads, 0, stream()>>>(x, w, bias, residual, y, g, e);
  }
}

// The narrowest channel tile that covers cout (up to 64; wider convs take several tiles).
template <typename T>
void launch(bool pointwise, const T* x, const T* w, const T* bias, const T* residual, T* y,
            const ConvGeometry& g, const ActAffine& e) {
  if (g.cout <= 16) {
    launch_tile<T, 16, 16, 16>(pointwise, x, w, bias, residual, y, g, e);
  } else if (g.cout <= 32) {
    launch_tile<T, 32, 32, 16>(pointwise, x, w, bias, residual, y, g, e);
  } else {
    launch_tile<T, 64, 32, 32>(pointwise, x, w, bias, residual, y, g, e);
  }
}

// The patch kernel where it supports the conv and measured faster than the generic one;
// pixels = the output's N * H * W (the caller has it at hand).
bool patch_conv_preferred(const Tensor& x, const Tensor& w, const Conv2dParams& p,
                          int64_t pixels) {
  return patch_conv_supported(x, w, p) && pixels <= kMaxPatchPreferredPixels;
}

bool is_pointwise(const Tensor& w, const Conv2dParams& p) {
  return w.size(2) == 1 && w.size(3) == 1 && p.pad_h == 0 && p.pad_w == 0;
}

std::atomic<int> g_policy{static_cast<int>(conv_kernel_choice_from_env("UM_OWN_CONV"))};

}  // namespace

void set_own_conv_policy(OwnConvPolicy policy) { g_policy.store(static_cast<int>(policy)); }
OwnConvPolicy own_conv_policy() { return static_cast<OwnConvPolicy>(g_policy.load()); }

bool implicit_gemm_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  if (x.dtype() != DType::kF32 && x.dtype() != DType::kF16) return false;
  if (p.groups != 1 || (p.allow_tf32 && x.dtype() == DType::kF32)) return false;
  if (x.dim() != 4 || w.dim() != 4 || x.size(1) != w.size(1)) return false;
  const int64_t kdim = w.size(1) * w.size(2) * w.size(3);
  if (kdim == 0 || (!is_pointwise(w, p) && kdim > kMaxTableK)) return false;
  // dy, dx share one int (16 bits each) in the offset table.
  if ((w.size(2) - 1) * p.dilation_h >= 32768 || (w.size(3) - 1) * p.dilation_w >= 32768) {
    return false;
  }
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), p);
  const int64_t out_numel = out[0] * out[1] * out[2] * out[3];
  if (x.numel() >= INT32_MAX || out_numel >= INT32_MAX || w.numel() >= INT32_MAX) return false;
  return um::cuda::device_attribute(cudaDevAttrComputeCapabilityMajor) >= 8;
}

bool implicit_gemm_conv_preferred(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  if (x.dtype() == DType::kF32 && !p.allow_split_tf32) return false;  // exact FFMA wanted
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), p);
  const int64_t pixels = out[0] * out[2] * out[3];
  if (patch_conv_preferred(x, w, p, pixels)) return true;
  // 1x1s the pointwise kernel runs: float32 ones. Float16 ones stay with cuDNN (its cuBLAS GEMM
  // + the epilogue pass) at every size: the kernel lost there on D-FINE-S's encoder 1x1s and on
  // TinyViT's 256x256 one (H200, session 11, inside a CUDA graph, per conv: 20x20 8.3 vs 7.6 us,
  // 40x40 8.2 vs 5.7, 80x80 9.1 vs 6.6, 256x256 58.5 vs 35.0; the D-FINE stage 1.340 -> 1.404 ms
  // with the encoder's on it): its 32-channel tiles re-read the input once per channel tile
  // through L2, and short reductions leave each block's copy / barrier chain exposed, where
  // cuBLAS runs 64-128 wide tiles with deep TMA pipelines.
  if (pointwise_conv_supported(x, w, p)) return x.dtype() == DType::kF32;
  return pixels >= kMinPreferredPixels;
}

void implicit_gemm_conv_cuda(const Tensor& x, const Tensor& w, const Tensor& bias,
                             const Conv2dParams& p, Activation act, float scale, float shift,
                             const Tensor& residual, const Tensor& y) {
  ConvGeometry g{};
  g.batch = static_cast<int>(x.size(0));
  g.cin = static_cast<int>(x.size(1));
  g.h = static_cast<int>(x.size(2));
  g.w = static_cast<int>(x.size(3));
  g.cout = static_cast<int>(w.size(0));
  g.kh = static_cast<int>(w.size(2));
  g.kw = static_cast<int>(w.size(3));
  g.oh = static_cast<int>(y.size(2));
  g.ow = static_cast<int>(y.size(3));
  g.stride_h = p.stride_h;
  g.stride_w = p.stride_w;
  g.pad_h = p.pad_h;
  g.pad_w = p.pad_w;
  g.dil_h = p.dilation_h;
  g.dil_w = p.dilation_w;
  g.kdim = g.cin * g.kh * g.kw;
  g.pixels = g.batch * g.oh * g.ow;
  if (g.pixels == 0 || g.cout == 0) return;
  if (patch_conv_preferred(x, w, p, g.pixels) &&
      patch_conv_f16_cuda(x, w, bias, p, act, scale, shift, residual, y)) {
    return;
  }
  if (pointwise_conv_supported(x, w, p) &&
      pointwise_conv_cuda(x, w, bias, act, scale, shift, residual, y)) {
    return;
  }
  const ActAffine e = ActAffine::make(act, scale, shift);
  const bool pointwise = is_pointwise(w, p);
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    launch<T>(pointwise, static_cast<const T*>(x.raw_data()), static_cast<const T*>(w.raw_data()),
              bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr,
              residual.defined() ? static_cast<const T*>(residual.raw_data()) : nullptr,
              static_cast<T*>(y.raw_data()), g, e);
  });
  check_launch(kOp);
}

}  // namespace um::nn::detail
