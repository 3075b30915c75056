// GPU tests of the element-wise, concat, pooling and resampling ops and of the antialiased uint8
// resize: every CUDA path against the CPU reference op on random data, float32 and float16,
// contiguous and strided (permuted/sliced) inputs, plus bad input -> um::Error and "no host sync".
// Tolerances:
//   - float32 element-wise: |gpu - cpu| <= 1e-6 * |cpu| + 1e-6. The add/sub/mul/div, scalar ops,
//     relu, clamps, concat, max_pool and upsample are exact IEEE operations (expected 0); expf,
//     erff and logf of CUDA differ from glibc by an ulp or two, and gelu's 1 + erf(x/sqrt2)
//     cancels for x << 0, which turns that ulp into ~3e-7 absolute at |x| = 6 (hence the 1e-6
//     absolute term).
//   - float32 resampling: 1e-5 * |cpu| + 1e-6 (the kernels mirror the CPU's arithmetic with
//     explicitly rounded intrinsics, so 0 is expected).
//   - float16: the CPU reference runs on the same float16-rounded inputs in float32; the GPU
//     stores its float32 result as float16 (<= 2^-11 relative) and may round the other way when
//     its float32 value differs by an ulp: 2e-3 relative + 1e-5 absolute.
//   - the uint8 antialiased resize: byte-exact (integer arithmetic on both sides).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/stream_context.h"
#include "core/cuda/strided_copy.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/ops.h"
#include "nn/resize_antialias.h"

// The conv bias kernel (src/nn/conv2d_cuda.cu, declared in nn/cudnn_context.h, which needs the
// cuDNN headers): declared here so its fast paths can be tested on their own.
namespace um::nn::detail {
void add_channel_bias(const Tensor& y, const Tensor& bias, const char* op);
}  // namespace um::nn::detail

namespace um {
namespace {

using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;

// Every element within atol + rtol * |ref|; names the first offender. Infinities must match.
void expect_close(const Tensor& gpu, const Tensor& ref_in, float rtol, float atol,
                  const std::string& what) {
  ASSERT_TRUE(gpu.device().is_cuda()) << what << ": result is on " << gpu.device().str();
  const Tensor got = to_cpu_f32(gpu).contiguous();
  const Tensor ref = ref_in.contiguous();
  ASSERT_EQ(shape_str(got.shape()), shape_str(ref.shape())) << what;
  int bad = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const float g = got.data<float>()[i], r = ref.data<float>()[i];
    const bool ok = (std::isinf(r) || std::isinf(g)) ? g == r
                                                      : std::fabs(g - r) <= atol + rtol * std::fabs(r);
    if (!ok && bad++ < 3) {
      ADD_FAILURE() << what << ": element " << i << " gpu " << g << " cpu " << r << " (diff "
                    << std::fabs(g - r) << ")";
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << ref.numel() << " elements differ";
}

// The CPU reference input for a float16 run: x rounded through float16.
Tensor half_rounded(const Tensor& x) { return x.to(DType::kF16).to(DType::kF32); }

constexpr float kF32Rtol = 1e-6f, kF32Atol = 1e-6f;
constexpr float kResampleRtol = 1e-5f, kResampleAtol = 1e-6f;
constexpr float kF16Rtol = 2e-3f, kF16Atol = 1e-5f;

template <typename F>
void expect_error_code(F&& f, StatusCode code, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": no um::Error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.status().code()), static_cast<int>(code))
        << what << ": " << e.what();
  }
}

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  float lo, hi;  // input range
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"relu", [](const Tensor& x) { return nn::relu(x); }, -3.f, 3.f},
      {"silu", [](const Tensor& x) { return nn::silu(x); }, -8.f, 8.f},
      {"gelu", [](const Tensor& x) { return nn::gelu(x); }, -6.f, 6.f},
      {"sigmoid", [](const Tensor& x) { return nn::sigmoid(x); }, -8.f, 8.f},
      // Outside [0, 1] and within eps of the ends, so both clamps are exercised.
      {"inverse_sigmoid", [](const Tensor& x) { return nn::inverse_sigmoid(x); }, -0.2f, 1.2f},
      {"inverse_sigmoid_eps", [](const Tensor& x) { return nn::inverse_sigmoid(x, 0.01f); }, -0.1f,
       1.1f},
      {"add_scalar", [](const Tensor& x) { return nn::add_scalar(x, 0.37f); }, -3.f, 3.f},
      {"mul_scalar", [](const Tensor& x) { return nn::mul_scalar(x, -1.7f); }, -3.f, 3.f},
  };
}

TEST(ElementwiseCuda, UnaryFloat32MatchesCpu) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 10;
  for (const auto& c : unary_cases()) {
    Tensor x = random_cpu({2, 3, 4, 5}, seed++, c.lo, c.hi);
    // Exact boundary values too: 0, 1 (inverse_sigmoid's clamp ends), and a tiny one.
    x.data<float>()[0] = 0.f;
    x.data<float>()[1] = 1.f;
    x.data<float>()[2] = 1e-6f;
    expect_close(c.op(to_gpu(x)), c.op(x), kF32Rtol, kF32Atol, std::string(c.name) + " f32");
    // A permuted (non-contiguous) view in, contiguous out.
    const Tensor xp = x.permute({0, 2, 3, 1});
    const Tensor yp = c.op(to_gpu(x).permute({0, 2, 3, 1}));
    EXPECT_TRUE(yp.is_contiguous());
    expect_close(yp, c.op(xp.contiguous()), kF32Rtol, kF32Atol,
                 std::string(c.name) + " f32 permuted");
  }
}

TEST(ElementwiseCuda, UnaryFloat16MatchesCpu) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 40;
  for (const auto& c : unary_cases()) {
    const Tensor x = random_cpu({3, 7, 11}, seed++, c.lo, c.hi);
    const Tensor y = c.op(to_gpu(x, DType::kF16));
    EXPECT_EQ(y.dtype(), DType::kF16) << c.name;
    expect_close(y, c.op(half_rounded(x)), kF16Rtol, kF16Atol, std::string(c.name) + " f16");
    const Tensor ys = c.op(to_gpu(x, DType::kF16).transpose(0, 2).slice(1, 2, 6));
    expect_close(ys, c.op(half_rounded(x).transpose(0, 2).slice(1, 2, 6).contiguous()), kF16Rtol,
                 kF16Atol, std::string(c.name) + " f16 strided");
  }
}

using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
struct BinaryCase {
  const char* name;
  BinaryFn fn;
};
const BinaryCase kBinary[] = {
    {"add", &nn::add}, {"sub", &nn::sub}, {"mul", &nn::mul}, {"div", &nn::div}};

// Operands away from 0 so that div stays well conditioned.
Tensor operand(const Shape& s, uint32_t seed) {
  Tensor t = random_cpu(s, seed, 0.5f, 2.f);
  std::mt19937 rng(seed + 1000);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (rng() & 1) t.data<float>()[i] = -t.data<float>()[i];
  }
  return t;
}

TEST(ElementwiseCuda, BinaryBroadcastingMatchesCpu) {
  UM_REQUIRE_CUDA();
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}},  // same shape (the flat path)
      {{2, 3, 4, 5}, {3, 1, 1}},     // per-channel bias (the bias path)
      {{2, 3, 4, 5}, {1, 3, 1, 1}},
      {{1, 3, 4, 5}, {3, 1, 1}},
      {{2, 3, 4, 5}, {1, 5}},        // last-dim vector
      {{2, 3, 4, 5}, {1}},           // scalar-like
      {{2, 3, 4, 5}, {2, 1, 4, 1}},
      {{3, 1, 1}, {2, 3, 4, 5}},     // the broadcast operand first
      {{4, 1}, {1, 5}},              // both broadcast
      {{1}, {1}},
  };
  uint32_t seed = 70;
  for (const auto& [sa, sb] : shapes) {
    const Tensor a = operand(sa, seed++), b = operand(sb, seed++);
    for (const auto& c : kBinary) {
      const std::string what = std::string(c.name) + " " + shape_str(sa) + " " + shape_str(sb);
      expect_close(c.fn(to_gpu(a), to_gpu(b)), c.fn(a, b), kF32Rtol, 0.f, what + " f32");
      const Tensor a16 = half_rounded(a), b16 = half_rounded(b);
      const Tensor y16 = c.fn(to_gpu(a, DType::kF16), to_gpu(b, DType::kF16));
      EXPECT_EQ(y16.dtype(), DType::kF16);
      expect_close(y16, c.fn(a16, b16), kF16Rtol, kF16Atol, what + " f16");
    }
  }
}

TEST(ElementwiseCuda, BinaryStridedOperandsMatchCpu) {
  UM_REQUIRE_CUDA();
  // a: a permuted [2, 3, 4, 5] view; b: a transposed [4, 5] view and a sliced channel vector.
  const Tensor base = operand({2, 4, 5, 3}, 90);
  const Tensor a_cpu = base.permute({0, 3, 1, 2});
  const Tensor a_gpu = to_gpu(base).permute({0, 3, 1, 2});
  const Tensor bt = operand({5, 4}, 91);
  const Tensor bc = operand({6, 1, 1}, 92);
  for (const auto& c : kBinary) {
    const std::string name = c.name;
    expect_close(c.fn(a_gpu, to_gpu(bt).transpose(0, 1)), c.fn(a_cpu, bt.transpose(0, 1)),
                 kF32Rtol, 0.f, name + " permuted a, transposed b");
    expect_close(c.fn(to_gpu(bc).slice(0, 2, 5), a_gpu), c.fn(bc.slice(0, 2, 5), a_cpu), kF32Rtol,
                 0.f, name + " sliced a, permuted b");
    expect_close(c.fn(a_gpu, a_gpu), c.fn(a_cpu, a_cpu), kF32Rtol, 0.f, name + " a op a");
  }
}

TEST(ElementwiseCuda, ConcatMatchesCpu) {
  UM_REQUIRE_CUDA();
  for (int64_t dim : {0, 1, 3, -1}) {
    Shape s0 = {2, 3, 4, 5}, s1 = s0, s2 = s0;
    const int64_t d = dim < 0 ? dim + 4 : dim;
    s0[d] = 1;
    s1[d] = 2;
    s2[d] = 3;
    const Tensor x0 = random_cpu(s0, 100 + d), x1 = random_cpu(s1, 110 + d);
    // The third input is a permuted view (non-contiguous).
    Shape s2p = {s2[0], s2[2], s2[3], s2[1]};
    const Tensor x2base = random_cpu(s2p, 120 + d);
    const Tensor x2 = x2base.permute({0, 3, 1, 2});
    const Tensor ref = nn::concat({x0, x1, x2}, dim);
    const std::string what = "concat dim " + std::to_string(dim);
    expect_close(nn::concat({to_gpu(x0), to_gpu(x1), to_gpu(x2base).permute({0, 3, 1, 2})}, dim),
                 ref, 0.f, 0.f, what + " f32");
    const Tensor y16 = nn::concat({to_gpu(x0, DType::kF16), to_gpu(x1, DType::kF16),
                                   to_gpu(x2base, DType::kF16).permute({0, 3, 1, 2})},
                                  dim);
    EXPECT_EQ(y16.dtype(), DType::kF16);
    expect_close(y16, nn::concat({half_rounded(x0), half_rounded(x1), half_rounded(x2)}, dim), 0.f,
                 0.f, what + " f16");
  }
  // An empty piece is allowed, as on the CPU.
  const Tensor a = random_cpu({2, 3}, 130), e = Tensor::empty({2, 0});
  expect_close(nn::concat({to_gpu(a), to_gpu(e), to_gpu(a)}, 1), nn::concat({a, e, a}, 1), 0.f,
               0.f, "concat with an empty piece");
}

// D-FINE's decoder memory: feature levels [1, C, H*W] seen as [1, H*W, C] (permuted views)
// concatenated along the tokens; each transposed piece goes through the strided copy into its
// slice of the output (the legacy gather per piece in kLegacy mode). Odd sizes too.
TEST(ElementwiseCuda, ConcatOfTransposedLevelsMatchesCpuInEveryMode) {
  UM_REQUIRE_CUDA();
  struct Restore {
    ~Restore() { cuda::set_memops_mode(cuda::MemopsMode::kFast); }
  } restore;
  for (const auto& [c, sides] : {std::pair<int64_t, std::vector<int64_t>>{256, {80, 40, 20}},
                                 {37, {9, 5, 3}}}) {
    std::vector<Tensor> cpu;
    for (int64_t side : sides) {
      cpu.push_back(random_cpu({1, c, side * side}, static_cast<uint32_t>(160 + side)));
    }
    std::vector<Tensor> flat;
    for (const Tensor& t : cpu) flat.push_back(t.permute({0, 2, 1}));
    const Tensor ref = nn::concat(flat, 1);
    for (cuda::MemopsMode mode : {cuda::MemopsMode::kFast, cuda::MemopsMode::kLegacy}) {
      cuda::set_memops_mode(mode);
      for (DType dt : {DType::kF32, DType::kF16}) {
        std::vector<Tensor> gpu;
        for (const Tensor& t : cpu) gpu.push_back(to_gpu(t, dt).permute({0, 2, 1}));
        const Tensor y = nn::concat(gpu, 1);
        EXPECT_EQ(y.dtype(), dt);
        expect_close(y, dt == DType::kF16 ? half_rounded(ref) : ref, 0.f, 0.f,
                     "levels of " + std::to_string(c) + " channels, " + dtype_name(dt) +
                         (mode == cuda::MemopsMode::kFast ? " fast" : " legacy"));
      }
    }
  }
}

TEST(ElementwiseCuda, SplitOfGpuTensorIsAView) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 9, 3}, 140);
  const auto parts = nn::split(to_gpu(x), {2, 3, 4}, 1);
  ASSERT_EQ(parts.size(), 3u);
  expect_close(parts[1], x.slice(1, 2, 5), 0.f, 0.f, "split part 1");
  expect_close(nn::relu(parts[2]), nn::relu(x.slice(1, 5, 9)), 0.f, 0.f, "relu of a split part");
}

TEST(ElementwiseCuda, MixedDevicesAndBadInputThrow) {
  UM_REQUIRE_CUDA();
  const Tensor c = random_cpu({2, 3}, 150);
  const Tensor g = to_gpu(c);
  const Tensor g16 = to_gpu(c, DType::kF16);
  expect_error_code([&] { nn::add(g, c); }, StatusCode::kFailedPrecondition, "add(gpu, cpu)");
  expect_error_code([&] { nn::add(c, g); }, StatusCode::kFailedPrecondition, "add(cpu, gpu)");
  expect_error_code([&] { nn::mul(g, g16); }, StatusCode::kInvalidArgument, "mul(f32, f16)");
  expect_error_code([&] { nn::sub(g, to_gpu(random_cpu({4}, 151))); },
                    StatusCode::kInvalidArgument, "sub of non-broadcastable shapes");
  expect_error_code([&] { nn::concat({g, c}, 0); }, StatusCode::kFailedPrecondition,
                    "concat(gpu, cpu)");
  expect_error_code([&] { nn::concat({c, g}, 0); }, StatusCode::kFailedPrecondition,
                    "concat(cpu, gpu)");
  expect_error_code([&] { nn::concat({g, g16}, 0); }, StatusCode::kInvalidArgument,
                    "concat(f32, f16)");
  expect_error_code([&] { nn::concat({g, to_gpu(random_cpu({2, 4}, 152))}, 0); },
                    StatusCode::kInvalidArgument, "concat of mismatched shapes");
  expect_error_code([&] { nn::concat({g, g}, 2); }, StatusCode::kInvalidArgument,
                    "concat dim out of range");
  expect_error_code([&] { nn::relu(to_gpu(c).to(DType::kI32)); }, StatusCode::kInvalidArgument,
                    "relu of int32");
  const Tensor img = to_gpu(random_cpu({1, 2, 6, 6}, 153));
  const Tensor grid_cpu = random_cpu({1, 3, 3, 2}, 154);
  expect_error_code([&] { nn::grid_sample_bilinear(img, grid_cpu); },
                    StatusCode::kFailedPrecondition, "grid_sample(gpu x, cpu grid)");
  expect_error_code([&] { nn::grid_sample_bilinear(img.to(Device::cpu()), to_gpu(grid_cpu)); },
                    StatusCode::kFailedPrecondition, "grid_sample(cpu x, gpu grid)");
  expect_error_code([&] { nn::grid_sample_bilinear(img, to_gpu(random_cpu({1, 3, 3, 3}, 155))); },
                    StatusCode::kInvalidArgument, "grid_sample with a [.., 3] grid");
  expect_error_code([&] { nn::max_pool2d(to_gpu(c), 2, 2, 0, false); },
                    StatusCode::kInvalidArgument, "max_pool2d of a 2-D tensor");
  expect_error_code([&] { nn::max_pool2d(img, 2, 2, 2, false); }, StatusCode::kInvalidArgument,
                    "max_pool2d with pad > kernel / 2");
  expect_error_code([&] { nn::resize_bilinear(img, 0, 4, false); }, StatusCode::kInvalidArgument,
                    "resize_bilinear to 0 rows");
  expect_error_code([&] { nn::upsample_nearest2x(g); }, StatusCode::kInvalidArgument,
                    "upsample_nearest2x of a 2-D tensor");
}

TEST(PoolingCuda, MaxPoolMatchesCpu) {
  UM_REQUIRE_CUDA();
  struct Case {
    Shape shape;
    int kernel, stride, pad;
    bool ceil;
  };
  const Case cases[] = {
      {{2, 3, 9, 11}, 3, 2, 1, false}, {{2, 3, 9, 11}, 3, 2, 1, true},
      {{1, 4, 7, 8}, 2, 2, 0, true},   {{1, 4, 7, 8}, 2, 2, 0, false},
      {{1, 2, 10, 13}, 3, 3, 1, true}, {{2, 2, 5, 5}, 2, 1, 1, true},  // D-FINE's stem pool
      {{1, 1, 4, 6}, 4, 3, 2, true},
      // Row kernel: more rows than one grid dimension holds (70000), rows wider than a block.
      {{1, 70000, 2, 3}, 2, 1, 0, true}, {{1, 2, 3, 700}, 2, 1, 0, true},
      {{1, 16, 321, 321}, 2, 1, 0, true},  // the stem's pool at 640 x 640
  };
  uint32_t seed = 200;
  for (const auto& c : cases) {
    const Tensor x = random_cpu(c.shape, seed++, -5.f, 1.f);  // mostly negative: -inf padding
    const std::string what = "max_pool2d " + shape_str(c.shape) + " k" +
                             std::to_string(c.kernel) + " s" + std::to_string(c.stride) + " p" +
                             std::to_string(c.pad) + (c.ceil ? " ceil" : "");
    const Tensor ref = nn::max_pool2d(x, c.kernel, c.stride, c.pad, c.ceil);
    expect_close(nn::max_pool2d(to_gpu(x), c.kernel, c.stride, c.pad, c.ceil), ref, 0.f, 0.f,
                 what + " f32");
    // Strided: the same values through a permuted view.
    const Tensor xp = to_gpu(x.permute({0, 2, 3, 1}).contiguous()).permute({0, 3, 1, 2});
    expect_close(nn::max_pool2d(xp, c.kernel, c.stride, c.pad, c.ceil), ref, 0.f, 0.f,
                 what + " f32 permuted");
    expect_close(nn::max_pool2d(to_gpu(x, DType::kF16), c.kernel, c.stride, c.pad, c.ceil),
                 nn::max_pool2d(half_rounded(x), c.kernel, c.stride, c.pad, c.ceil), 0.f, 0.f,
                 what + " f16");
  }
}

TEST(PoolingCuda, UpsampleNearest2xMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 3, 5, 7}, 230);
  const Tensor ref = nn::upsample_nearest2x(x);
  expect_close(nn::upsample_nearest2x(to_gpu(x)), ref, 0.f, 0.f, "upsample f32");
  expect_close(nn::upsample_nearest2x(to_gpu(x).slice(3, 2, 7)),
               nn::upsample_nearest2x(x.slice(3, 2, 7).contiguous()), 0.f, 0.f, "upsample sliced");
  expect_close(nn::upsample_nearest2x(to_gpu(x, DType::kF16)),
               nn::upsample_nearest2x(half_rounded(x)), 0.f, 0.f, "upsample f16");
  // Row kernel: rows past one grid dimension, output rows wider than a block.
  for (const Shape& s : {Shape{1, 40000, 1, 3}, Shape{1, 2, 2, 300}}) {
    const Tensor xs = random_cpu(s, 231);
    expect_close(nn::upsample_nearest2x(to_gpu(xs)), nn::upsample_nearest2x(xs), 0.f, 0.f,
                 "upsample " + shape_str(s));
  }
}

TEST(ResampleCuda, ResizeBilinearMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 3, 17, 23}, 240);
  const std::vector<std::pair<int64_t, int64_t>> sizes = {
      {40, 50}, {7, 9}, {17, 23}, {1, 1}, {34, 11}, {160, 160}};
  for (const auto& [oh, ow] : sizes) {
    for (bool ac : {false, true}) {
      const std::string what = "resize " + std::to_string(oh) + "x" + std::to_string(ow) +
                               (ac ? " align_corners" : "");
      const Tensor ref = nn::resize_bilinear(x, oh, ow, ac);
      expect_close(nn::resize_bilinear(to_gpu(x), oh, ow, ac), ref, kResampleRtol, kResampleAtol,
                   what + " f32");
      const Tensor xp = to_gpu(x.permute({0, 2, 3, 1}).contiguous()).permute({0, 3, 1, 2});
      expect_close(nn::resize_bilinear(xp, oh, ow, ac), ref, kResampleRtol, kResampleAtol,
                   what + " f32 permuted");
      expect_close(nn::resize_bilinear(to_gpu(x, DType::kF16), oh, ow, ac),
                   nn::resize_bilinear(half_rounded(x), oh, ow, ac), kF16Rtol, kF16Atol,
                   what + " f16");
    }
  }
  // A large source, where PyTorch's double-precision source index matters (see resample_cpu).
  const Tensor big = random_cpu({1, 1, 3, 700}, 241);
  expect_close(nn::resize_bilinear(to_gpu(big), 3, 1024, false),
               nn::resize_bilinear(big, 3, 1024, false), kResampleRtol, kResampleAtol,
               "resize 700 -> 1024 columns");
}

TEST(ResampleCuda, GridSampleMatchesCpuIncludingOutOfRange) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 3, 10, 12}, 250);
  // The grid as a permuted view of [N, 2, Ho, Wo] (x/y planes): non-contiguous last dim.
  Tensor planes = random_cpu({2, 2, 7, 9}, 251, -1.3f, 1.3f);
  float* p = planes.data<float>();
  // Exact edges, far outside and just outside in both directions.
  // (Kept within float16 range: the float16 run rounds the same grid.)
  const float specials[] = {-1.f, 1.f, 0.f, 5.f, -5.f, 3e4f, -3e4f, 1.08f, -1.09f, 1.17f};
  for (int i = 0; i < 10; ++i) p[i * 6] = specials[i];            // x plane of batch 0
  for (int i = 0; i < 10; ++i) p[63 + i * 5] = specials[9 - i];   // y plane of batch 0
  const Tensor grid_cpu = planes.permute({0, 2, 3, 1});
  const Tensor ref = nn::grid_sample_bilinear(x, grid_cpu.contiguous());
  expect_close(nn::grid_sample_bilinear(to_gpu(x), to_gpu(planes).permute({0, 2, 3, 1})), ref,
               kResampleRtol, kResampleAtol, "grid_sample f32 (strided grid)");
  expect_close(nn::grid_sample_bilinear(to_gpu(x), to_gpu(grid_cpu.contiguous())), ref,
               kResampleRtol, kResampleAtol, "grid_sample f32");
  const Tensor xp = to_gpu(x.permute({0, 2, 3, 1}).contiguous()).permute({0, 3, 1, 2});
  expect_close(nn::grid_sample_bilinear(xp, to_gpu(grid_cpu.contiguous())), ref, kResampleRtol,
               kResampleAtol, "grid_sample f32 (permuted x)");
  expect_close(nn::grid_sample_bilinear(to_gpu(x, DType::kF16),
                                        to_gpu(grid_cpu.contiguous(), DType::kF16)),
               nn::grid_sample_bilinear(half_rounded(x), half_rounded(grid_cpu.contiguous())),
               kF16Rtol, kF16Atol, "grid_sample f16");
}

TEST(ElementwiseCuda, OpsRunOnTheCurrentStreamWithoutHostSync) {
  UM_REQUIRE_CUDA();
  const Tensor a = random_cpu({2, 3, 8, 8}, 260), b = random_cpu({3, 1, 1}, 261);
  const Tensor grid = random_cpu({2, 4, 4, 2}, 262);
  const Tensor ga = to_gpu(a), gb = to_gpu(b), gg = to_gpu(grid);
  cuda::Stream s;
  Tensor y;
  const uint64_t before = cuda::host_sync_count();
  {
    cuda::StreamScope scope(s.get());
    Tensor t = nn::gelu(nn::add(ga, gb));
    t = nn::concat({t, nn::sigmoid(ga)}, 1);
    t = nn::max_pool2d(t, 3, 2, 1, true);
    t = nn::resize_bilinear(nn::upsample_nearest2x(t), 8, 8, false);
    y = nn::grid_sample_bilinear(t, gg);
  }
  EXPECT_EQ(cuda::host_sync_count(), before);
  cuda::synchronize(s.get());
  Tensor t = nn::gelu(nn::add(a, b));
  t = nn::concat({t, nn::sigmoid(a)}, 1);
  t = nn::max_pool2d(t, 3, 2, 1, true);
  t = nn::resize_bilinear(nn::upsample_nearest2x(t), 8, 8, false);
  expect_close(y, nn::grid_sample_bilinear(t, grid), 1e-5f, 1e-5f, "op chain on a side stream");
}

// ---- The Pillow-exact antialiased uint8 resize -----------------------------------------------

Tensor random_u8(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t = Tensor::empty(shape, DType::kU8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(rng() & 255);
  return t;
}

// Byte-exact comparison of a GPU uint8 result with the CPU's.
void expect_same_bytes(const Tensor& gpu, const Tensor& cpu, const std::string& what) {
  ASSERT_TRUE(gpu.device().is_cuda()) << what;
  ASSERT_EQ(gpu.dtype(), DType::kU8) << what;
  const Tensor got = gpu.to(Device::cpu()).contiguous();
  ASSERT_EQ(shape_str(got.shape()), shape_str(cpu.shape())) << what;
  int64_t bad = 0, worst = 0;
  for (int64_t i = 0; i < cpu.numel(); ++i) {
    const int d = std::abs(int{got.data<uint8_t>()[i]} - int{cpu.data<uint8_t>()[i]});
    if (d != 0) {
      if (bad++ < 3) ADD_FAILURE() << what << ": byte " << i << " differs by " << d;
      worst = std::max<int64_t>(worst, d);
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " bytes differ, worst by " << worst;
}

TEST(ResizeAntialiasCuda, MatchesCpuByteForByte) {
  UM_REQUIRE_CUDA();
  const Tensor rgb = random_u8({422, 558, 3}, 300);  // H x W x C, as a decoded ultrasound frame
  const std::vector<std::pair<int64_t, int64_t>> sizes = {
      {774, 1024},  // ResizeLongestSide(1024) of a 558-wide, 422-high frame
      {200, 150},   // shrinking both ways (antialiased footprint)
      {422, 300},   // width only (the vertical pass is skipped)
      {600, 558},   // height only (the horizontal pass is skipped)
      {422, 558},   // identity
      {97, 1024},   // shrink one axis, grow the other
  };
  const Tensor g = rgb.to(Device::cuda());
  for (const auto& [oh, ow] : sizes) {
    const std::string what = "antialias " + std::to_string(oh) + "x" + std::to_string(ow);
    const Tensor ref = nn::resize_bilinear_antialias_u8(rgb, oh, ow);
    expect_same_bytes(nn::resize_bilinear_antialias_u8(g, oh, ow), ref, what);
  }
  // Gray, and a channel-first image seen as [H, W, C] through a permuted view.
  const Tensor gray = random_u8({301, 257, 1}, 301);
  expect_same_bytes(nn::resize_bilinear_antialias_u8(gray.to(Device::cuda()), 128, 100),
                    nn::resize_bilinear_antialias_u8(gray, 128, 100), "antialias gray");
  const Tensor chw = random_u8({3, 120, 90}, 302);
  const Tensor hwc_view = chw.to(Device::cuda()).permute({1, 2, 0});
  expect_same_bytes(nn::resize_bilinear_antialias_u8(hwc_view, 256, 192),
                    nn::resize_bilinear_antialias_u8(chw.permute({1, 2, 0}), 256, 192),
                    "antialias permuted CHW");
}

TEST(ResizeAntialiasCuda, MatchesPillowReference) {
  UM_REQUIRE_CUDA();
  // A 6x9 gray image and Pillow 13.0's Image.resize(..., BILINEAR) of it (the same reference data
  // as tests/mobilesam/ops_test.cpp).
  const std::vector<uint8_t> small = {
      78,  204, 64,  34,  16,  250, 233, 32,  103, 122, 13,  204, 138, 172, 208, 127, 124, 100,
      12,  151, 222, 203, 251, 153, 211, 235, 80,  182, 176, 41,  88,  7,   141, 241, 73,  124,
      223, 123, 222, 37,  84,  55,  200, 102, 211, 60,  159, 237, 53,  138, 57,  140, 55,  21};
  const std::vector<uint8_t> shrunk_2x4 = {114, 134, 173, 127, 154, 114, 121, 129};
  const std::vector<uint8_t> grown_11x5 = {
      131, 81,  75,  201, 82,  115, 102, 106, 185, 92,  88,  139, 159, 159, 108, 83,  171, 190, 170,
      130, 87,  201, 215, 195, 154, 128, 142, 138, 188, 133, 169, 84,  58,  176, 112, 175, 119, 63,
      153, 141, 171, 149, 71,  131, 147, 136, 159, 89,  110, 82,  115, 165, 99,  98,  44};
  Tensor img = Tensor::empty({6, 9, 1}, DType::kU8);
  std::copy(small.begin(), small.end(), img.data<uint8_t>());
  auto run = [&](int64_t oh, int64_t ow) {
    const Tensor out = nn::resize_bilinear_antialias_u8(img.to(Device::cuda()), oh, ow)
                           .to(Device::cpu());
    return std::vector<uint8_t>(out.data<uint8_t>(), out.data<uint8_t>() + out.numel());
  };
  EXPECT_EQ(run(2, 4), shrunk_2x4);
  EXPECT_EQ(run(11, 5), grown_11x5);
}

TEST(ResizeAntialiasCuda, RepeatedSizeNeitherCopiesNorSyncs) {
  UM_REQUIRE_CUDA();
  const Tensor rgb = random_u8({50, 70, 3}, 310);
  const Tensor g = rgb.to(Device::cuda());
  // The first call of a size may upload its taps (one counted sync) ...
  (void)nn::resize_bilinear_antialias_u8(g, 91, 128);
  // ... later calls only queue kernels.
  const uint64_t before = cuda::host_sync_count();
  Tensor out;
  for (int i = 0; i < 3; ++i) out = nn::resize_bilinear_antialias_u8(g, 91, 128);
  EXPECT_EQ(cuda::host_sync_count(), before);
  expect_same_bytes(out, nn::resize_bilinear_antialias_u8(rgb, 91, 128), "antialias repeated");
}

TEST(ResizeAntialiasCuda, RejectsBadInput) {
  UM_REQUIRE_CUDA();
  const Tensor g = random_u8({4, 4, 1}, 320).to(Device::cuda());
  expect_error_code([&] { nn::resize_bilinear_antialias_u8(g, 0, 2); },
                    StatusCode::kInvalidArgument, "antialias to 0 rows");
  expect_error_code([&] { nn::resize_bilinear_antialias_u8(g.view({4, 4}), 2, 2); },
                    StatusCode::kInvalidArgument, "antialias of a 2-D image");
  expect_error_code([&] { nn::resize_bilinear_antialias_u8(to_gpu(random_cpu({4, 4, 1}, 321)), 2, 2); },
                    StatusCode::kInvalidArgument, "antialias of a float image");
}

// ---- Fast paths (vectorised, grouped, split) against the original kernels ---------------------
// The element-wise, concat and bias fast paths compute the same float32 expression per element
// as the original kernels, so kFast and kFastIndex64 must reproduce kLegacy's bytes exactly; the
// CPU comparison guards the whole. The layer norms sum in another order: CPU tolerances.

struct MemopsGuard {
  explicit MemopsGuard(cuda::MemopsMode m) { cuda::set_memops_mode(m); }
  ~MemopsGuard() { cuda::set_memops_mode(cuda::MemopsMode::kFast); }
};

bool same_bytes_cpu(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// f() returns a GPU tensor; all three modes must give the same bytes. Returns the kFast result.
Tensor expect_modes_identical(const std::function<Tensor()>& f, const std::string& what) {
  Tensor legacy;
  {
    MemopsGuard g(cuda::MemopsMode::kLegacy);
    legacy = f().to(Device::cpu());
  }
  Tensor fast;
  for (cuda::MemopsMode m : {cuda::MemopsMode::kFastIndex64, cuda::MemopsMode::kFast}) {
    MemopsGuard g(m);
    fast = f();
    EXPECT_TRUE(same_bytes_cpu(fast.to(Device::cpu()), legacy))
        << what << ": mode " << (m == cuda::MemopsMode::kFast ? "fast" : "fast64")
        << " differs from the original kernel";
  }
  return fast;
}

// Views of a GPU tensor that select the unary/binary paths: contiguous and aligned, contiguous
// but one element off 16-byte alignment, strided.
struct ViewCase {
  const char* name;
  Shape shape;                                   // of the CPU tensor handed to the op
  std::function<Tensor(const Tensor&)> gpu_view;  // GPU tensor of `shape` from a fresh upload
};

// A contiguous GPU view of `cpu` starting one element into its allocation (misaligned).
Tensor offset_by_one(const Tensor& cpu, DType dt) {
  Tensor flat = Tensor::empty({cpu.numel() + 1}, dt, Device::cuda());
  Tensor view = flat.slice(0, 1, cpu.numel() + 1).view(cpu.shape());
  view.copy_from(cpu.contiguous().to(dt).to(Device::cuda()));
  return view;
}

TEST(ElementwiseCudaFast, UnaryVectorisedTailMisalignedAndStrided) {
  UM_REQUIRE_CUDA();
  for (DType dt : {DType::kF32, DType::kF16}) {
    for (const auto& c : unary_cases()) {
      const Tensor tail = random_cpu({1003}, 300, c.lo, c.hi);  // 125 packs of 8 + 3
      const Tensor even = random_cpu({4, 64, 32}, 301, c.lo, c.hi);
      const Tensor odd = random_cpu({16, 33}, 302, c.lo, c.hi);
      const Tensor ref_in = dt == DType::kF16 ? half_rounded(tail) : tail;
      const std::string what = std::string(c.name) + " " + dtype_name(dt);
      const Tensor got =
          expect_modes_identical([&] { return c.op(to_gpu(tail, dt)); }, what + " tail");
      if (dt == DType::kF32) {
        expect_close(got, c.op(ref_in), kF32Rtol, kF32Atol, what + " tail vs cpu");
      } else {
        expect_close(got, c.op(ref_in), kF16Rtol, kF16Atol, what + " tail vs cpu");
      }
      expect_modes_identical([&] { return c.op(to_gpu(even, dt)); }, what + " even");
      expect_modes_identical([&] { return c.op(offset_by_one(tail, dt)); }, what + " misaligned");
      expect_modes_identical([&] { return c.op(to_gpu(odd, dt).transpose(0, 1)); },
                             what + " strided");
    }
  }
}

TEST(ElementwiseCudaFast, BinaryVectorisedAndBroadcastPaths) {
  UM_REQUIRE_CUDA();
  using BinFn = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<const char*, BinFn>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return nn::add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return nn::sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return nn::mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return nn::div(a, b); }},
  };
  struct Pair {
    const char* name;
    Shape a, b;
  };
  const std::vector<Pair> pairs = {
      {"same shape, tail", {1003}, {1003}},
      {"same shape", {8, 128}, {8, 128}},
      {"NCHW bias, HW % 8 == 0", {2, 16, 8, 8}, {16, 1, 1}},
      {"NCHW bias, HW odd", {2, 16, 5, 5}, {16, 1, 1}},
      {"row vector b", {3, 50, 64}, {64}},
      {"row vector a", {64}, {3, 50, 64}},
      {"row vector of 36", {3, 7, 36}, {36}},  // float16: 36 % 8 != 0 -> element kernel
      {"row vector of 36, a", {36}, {3, 7, 36}},
  };
  for (DType dt : {DType::kF32, DType::kF16}) {
    for (const auto& [op_name, op] : ops) {
      for (const auto& p : pairs) {
        // b in [0.5, 2]: no division by (almost) zero.
        const Tensor a = random_cpu(p.a, 310, -2.f, 2.f), b = random_cpu(p.b, 311, 0.5f, 2.f);
        const std::string what = std::string(op_name) + " " + p.name + " " + dtype_name(dt);
        const Tensor got =
            expect_modes_identical([&] { return op(to_gpu(a, dt), to_gpu(b, dt)); }, what);
        const Tensor ra = dt == DType::kF16 ? half_rounded(a) : a;
        const Tensor rb = dt == DType::kF16 ? half_rounded(b) : b;
        const Tensor ref = dt == DType::kF16 ? half_rounded(op(ra, rb)) : op(ra, rb);
        expect_close(got, ref, 0.f, 0.f, what + " vs cpu");  // one IEEE op: exact
        // Misaligned operands take the element kernels.
        expect_modes_identical([&] { return op(offset_by_one(a, dt), to_gpu(b, dt)); },
                               what + " misaligned a");
        expect_modes_identical([&] { return op(to_gpu(a, dt), offset_by_one(b, dt)); },
                               what + " misaligned b");
      }
    }
  }
}

TEST(ElementwiseCudaFast, ConcatGroupsUnitsAndFallbacks) {
  UM_REQUIRE_CUDA();
  struct Case {
    const char* name;
    std::vector<Shape> shapes;
    int64_t dim;
    int strided_piece;  // index of a piece passed as a transposed view (-1: none)
  };
  const std::vector<Case> cases = {
      {"dim 1 of NCHW", {{2, 3, 5, 8}, {2, 5, 5, 8}, {2, 8, 5, 8}}, 1, -1},
      {"ten pieces (two groups)",
       {{2, 1, 4}, {2, 2, 4}, {2, 3, 4}, {2, 1, 4}, {2, 4, 4}, {2, 1, 4}, {2, 2, 4}, {2, 5, 4},
        {2, 1, 4}, {2, 3, 4}},
       1, -1},
      {"odd chunks on the last dim", {{4, 7}, {4, 9}, {4, 1}}, 1, -1},
      {"dim 0", {{3, 16}, {5, 16}}, 0, -1},
      {"empty piece", {{2, 3, 8}, {2, 0, 8}, {2, 5, 8}}, 1, -1},
      {"strided middle piece", {{3, 4, 6}, {3, 6, 6}, {3, 2, 6}}, 1, 1},
  };
  for (DType dt : {DType::kF32, DType::kF16}) {
    for (const auto& c : cases) {
      std::vector<Tensor> cpu;
      for (size_t k = 0; k < c.shapes.size(); ++k) {
        const Tensor t = random_cpu(c.shapes[k], 320 + static_cast<uint32_t>(k));
        cpu.push_back(dt == DType::kF16 ? half_rounded(t) : t);
      }
      const auto upload = [&](bool misalign_first) {
        std::vector<Tensor> g;
        for (size_t k = 0; k < cpu.size(); ++k) {
          if (static_cast<int>(k) == c.strided_piece) {
            // The same values as a transposed (non-contiguous) view of dims 1 and 2.
            g.push_back(to_gpu(cpu[k].transpose(1, 2).contiguous(), dt).transpose(1, 2));
          } else if (k == 0 && misalign_first) {
            g.push_back(offset_by_one(cpu[k], dt));
          } else {
            g.push_back(to_gpu(cpu[k], dt));
          }
        }
        return g;
      };
      const std::string what = std::string(c.name) + " " + dtype_name(dt);
      const Tensor got =
          expect_modes_identical([&] { return nn::concat(upload(false), c.dim); }, what);
      expect_close(got, nn::concat(cpu, c.dim), 0.f, 0.f, what + " vs cpu");
      const Tensor got_mis =
          expect_modes_identical([&] { return nn::concat(upload(true), c.dim); }, what + " mis");
      expect_close(got_mis, nn::concat(cpu, c.dim), 0.f, 0.f, what + " misaligned vs cpu");
    }
  }
}

TEST(ElementwiseCudaFast, ConvBiasVectorisedAndElementPaths) {
  UM_REQUIRE_CUDA();
  // Planes of 400 (packs of 8 halfs / 4 floats), 25 and 63 (element kernel), and a y one
  // element off alignment.
  const std::vector<Shape> shapes = {{2, 16, 20, 20}, {2, 16, 5, 5}, {1, 3, 7, 9}};
  for (DType dt : {DType::kF32, DType::kF16}) {
    for (const Shape& shape : shapes) {
      for (bool misaligned : {false, true}) {
        const Tensor y = random_cpu(shape, 330, -3.f, 3.f);
        const Tensor b = random_cpu({shape[1]}, 331, -1.f, 1.f);
        const auto run = [&] {
          Tensor gy = misaligned ? offset_by_one(y, dt) : to_gpu(y, dt).clone();
          nn::detail::add_channel_bias(gy, to_gpu(b, dt), "bias test");
          return gy;
        };
        const std::string what = shape_str(shape) + " " + dtype_name(dt) +
                                 (misaligned ? " misaligned" : "");
        const Tensor got = expect_modes_identical(run, what);
        const Tensor ry = dt == DType::kF16 ? half_rounded(y) : y;
        const Tensor rb = dt == DType::kF16 ? half_rounded(b) : b;
        Tensor ref = nn::add(ry, rb.view({shape[1], 1, 1}));
        if (dt == DType::kF16) ref = half_rounded(ref);
        expect_close(got, ref, 0.f, 0.f, what + " vs cpu");
      }
    }
  }
}

TEST(ElementwiseCudaFast, LayerNormGroupShapesAndFallbacks) {
  UM_REQUIRE_CUDA();
  // Row lengths for every lane-group shape of the fast kernel (8/16/32 lanes, 1-8 packs per
  // lane) and for the fallbacks (not a multiple of the pack, longer than the fast kernel).
  const std::vector<int64_t> widths = {32, 64, 96, 128, 256, 384, 512, 768, 1000, 1024, 2048, 36,
                                       1030};
  for (DType dt : {DType::kF32, DType::kF16}) {
    for (int64_t c : widths) {
      for (int64_t rows : {1, 7, 37}) {
        // Short float32 rows: values around 100 with spread 1 (a one-pass variance would fail).
        // Not for long rows: the CPU reference sums sequentially in float32, and at 100 * 2048
        // its own rounding alone approaches the tolerance.
        const bool offset = dt == DType::kF32 && c <= 96;
        const float lo = offset ? 99.f : -2.f, hi = offset ? 101.f : 2.f;
        Tensor x = random_cpu({rows, c}, 340, lo, hi);
        Tensor w = random_cpu({c}, 341), b = random_cpu({c}, 342);
        if (dt == DType::kF16) {
          x = half_rounded(x);
          w = half_rounded(w);
          b = half_rounded(b);
        }
        const float tol = dt == DType::kF32 ? 1e-4f : 1e-2f;
        const std::string what = "layer_norm " + std::to_string(rows) + "x" + std::to_string(c) +
                                 " " + dtype_name(dt);
        expect_close(nn::layer_norm(to_gpu(x, dt), to_gpu(w, dt), to_gpu(b, dt), 1e-5f),
                     nn::layer_norm(x, w, b, 1e-5f), 0.f, tol, what);
        expect_close(nn::layer_norm(to_gpu(x, dt), Tensor(), Tensor(), 1e-6f),
                     nn::layer_norm(x, Tensor(), Tensor(), 1e-6f), 0.f, tol, what + " no affine");
        expect_close(nn::layer_norm(offset_by_one(x, dt), offset_by_one(w, dt), to_gpu(b, dt),
                                    1e-5f),
                     nn::layer_norm(x, w, b, 1e-5f), 0.f, tol, what + " misaligned");
        MemopsGuard legacy(cuda::MemopsMode::kLegacy);
        expect_close(nn::layer_norm(to_gpu(x, dt), to_gpu(w, dt), to_gpu(b, dt), 1e-5f),
                     nn::layer_norm(x, w, b, 1e-5f), 0.f, tol, what + " legacy");
      }
    }
  }
}

TEST(ElementwiseCudaFast, LayerNorm2dSplitKernel) {
  UM_REQUIRE_CUDA();
  // Channels above, equal to and below the 16 channel groups; pixel counts not a multiple of
  // the 32-pixel block; several images.
  const std::vector<Shape> shapes = {{2, 32, 9, 11}, {1, 256, 16, 16}, {1, 5, 3, 3},
                                     {3, 16, 1, 1}, {1, 17, 7, 5}};
  for (DType dt : {DType::kF32, DType::kF16}) {
    for (const Shape& shape : shapes) {
      Tensor x = random_cpu(shape, 350, -3.f, 5.f);
      Tensor w = random_cpu({shape[1]}, 351), b = random_cpu({shape[1]}, 352);
      if (dt == DType::kF16) {
        x = half_rounded(x);
        w = half_rounded(w);
        b = half_rounded(b);
      }
      const float tol = dt == DType::kF32 ? 1e-4f : 1e-2f;
      const std::string what = "layer_norm_2d " + shape_str(shape) + " " + dtype_name(dt);
      for (cuda::MemopsMode m : {cuda::MemopsMode::kFast, cuda::MemopsMode::kLegacy}) {
        MemopsGuard g(m);
        expect_close(nn::layer_norm_2d(to_gpu(x, dt), to_gpu(w, dt), to_gpu(b, dt), 1e-6f),
                     nn::layer_norm_2d(x, w, b, 1e-6f), 0.f, tol,
                     what + (m == cuda::MemopsMode::kFast ? "" : " legacy"));
      }
    }
  }
}

}  // namespace
}  // namespace um
