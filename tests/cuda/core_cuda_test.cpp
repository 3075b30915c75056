// GPU tests of the core plumbing: strided copies and dtype conversion on the device, the
// caching pool's reuse (no driver allocation once warm) and the counted host syncs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/device_pool.h"
#include "core/status.h"
#include "core/cuda/stream_context.h"
#include "core/cuda/strided_copy.h"
#include "cuda_test_support.h"

namespace um {
namespace {

using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;

TEST(CoreCuda, PermutedContiguousMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 3, 5, 7}, 1);
  const Tensor ref = x.permute({0, 2, 3, 1}).contiguous();
  const Tensor g = to_gpu(x).permute({0, 2, 3, 1}).contiguous();
  EXPECT_TRUE(g.device().is_cuda());
  EXPECT_EQ(max_abs_diff_gpu(g, ref), 0.f);
  // A slice of a transposed view, too.
  const Tensor ref2 = x.transpose(2, 3).slice(2, 1, 6).contiguous();
  EXPECT_EQ(max_abs_diff_gpu(to_gpu(x).transpose(2, 3).slice(2, 1, 6).contiguous(), ref2), 0.f);
}

TEST(CoreCuda, HalfRoundTripMatchesCpuConversion) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({1000}, 2, -65000.f, 65000.f);
  const Tensor cpu_half = x.to(DType::kF16).to(DType::kF32);
  EXPECT_EQ(max_abs_diff_gpu(to_gpu(x, DType::kF16), cpu_half), 0.f);
}

TEST(CoreCuda, ZerosAndIntegerConversion) {
  UM_REQUIRE_CUDA();
  const Tensor z = Tensor::zeros({3, 4}, DType::kF32, Device::cuda());
  EXPECT_EQ(max_abs_diff_gpu(z, Tensor::zeros({3, 4})), 0.f);
  Tensor idx = Tensor::empty({4}, DType::kI64);
  for (int i = 0; i < 4; ++i) idx.data<int64_t>()[i] = 3 * i - 2;
  const Tensor back = idx.to(Device::cuda()).to(DType::kF32).to(Device::cpu());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back.data<float>()[i], 3.f * i - 2.f);
}

TEST(CoreCuda, PoolReusesBlocksWithoutDriverAllocations) {
  UM_REQUIRE_CUDA();
  cuda::DevicePool pool;
  cuda::PoolScope scope(&pool);
  { Tensor a = Tensor::empty({1 << 20}, DType::kF32, Device::cuda()); }
  const uint64_t warm = pool.driver_allocations();
  EXPECT_EQ(warm, 1u);
  for (int i = 0; i < 10; ++i) {
    Tensor a = Tensor::empty({1 << 20}, DType::kF32, Device::cuda());
  }
  EXPECT_EQ(pool.driver_allocations(), warm);
  EXPECT_EQ(pool.in_use_bytes(), 0u);
  EXPECT_GE(pool.reserved_bytes(), size_t{4} << 20);
}

TEST(CoreCuda, DeviceToDeviceCopyDoesNotSynchronise) {
  UM_REQUIRE_CUDA();
  const Tensor a = to_gpu(random_cpu({64, 64}, 3));
  const uint64_t before = cuda::host_sync_count();
  Tensor b = a.transpose(0, 1).contiguous();
  Tensor c = b.to(DType::kF16);
  EXPECT_EQ(cuda::host_sync_count(), before);
  EXPECT_EQ(to_cpu_f32(c).shape(), (Shape{64, 64}));
}

// ---- strided_copy fast paths ----------------------------------------------------------------
// Each case builds a view of a random CPU tensor and of its GPU copy with the same function and
// compares GPU contiguous() with CPU contiguous() byte for byte, in all three kernel modes:
// kFast (merged dims, memcpy / vectorised / transpose / 32-bit index), kFastIndex64 (the same
// fast paths with 64-bit index kernels) and kLegacy (the original generic kernel).

using ViewFn = std::function<Tensor(const Tensor&)>;

// Restores the default mode even when an assertion returns early.
struct ModeGuard {
  explicit ModeGuard(cuda::MemopsMode m) { cuda::set_memops_mode(m); }
  ~ModeGuard() { cuda::set_memops_mode(cuda::MemopsMode::kFast); }
};

constexpr cuda::MemopsMode kAllModes[] = {cuda::MemopsMode::kFast, cuda::MemopsMode::kFastIndex64,
                                          cuda::MemopsMode::kLegacy};

const char* mode_name(cuda::MemopsMode m) {
  return m == cuda::MemopsMode::kFast ? "fast" : m == cuda::MemopsMode::kLegacy ? "legacy" : "fast64";
}

// A random CPU tensor of any dtype (integers small enough for every dtype, bools 0/1).
Tensor random_any(const Shape& shape, DType dtype, uint32_t seed) {
  Tensor f = random_cpu(shape, seed, -100.f, 100.f);
  if (dtype == DType::kF32) return f;
  if (dtype == DType::kF16 || dtype == DType::kBF16) return f.to(dtype);
  Tensor t = Tensor::empty(shape, dtype);
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint32_t r = rng();
    switch (dtype) {
      case DType::kI64: t.data<int64_t>()[i] = static_cast<int64_t>(r) - (int64_t{1} << 31); break;
      case DType::kI32: t.data<int32_t>()[i] = static_cast<int32_t>(r % 2000001) - 1000000; break;
      case DType::kU8: t.data<uint8_t>()[i] = static_cast<uint8_t>(r); break;
      case DType::kBool: t.data<bool>()[i] = (r & 1) != 0; break;
      default: break;
    }
  }
  return t;
}

bool same_bytes(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// view(x).contiguous() on the GPU equals the CPU, in every mode; with `to` another dtype,
// view(x).to(to) (the converting copy reads the strided view directly).
void expect_copy_matches(const Tensor& cpu, const ViewFn& view, const std::string& what,
                         DType to) {
  const auto copy = [&](const Tensor& v) { return to == v.dtype() ? v.contiguous() : v.to(to); };
  const Tensor ref = copy(view(cpu)).contiguous();
  const Tensor gpu_in = cpu.to(Device::cuda());
  for (cuda::MemopsMode m : kAllModes) {
    ModeGuard guard(m);
    const Tensor got = copy(view(gpu_in)).to(Device::cpu());
    EXPECT_TRUE(same_bytes(got, ref)) << what << " " << dtype_name(cpu.dtype()) << " -> "
                                      << dtype_name(to) << " in mode " << mode_name(m);
  }
}
void expect_copy_matches(const Tensor& cpu, const ViewFn& view, const std::string& what) {
  expect_copy_matches(cpu, view, what, cpu.dtype());
}

constexpr DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kI64,
                                DType::kI32, DType::kU8,  DType::kBool};

TEST(CoreCudaCopy, MergedInnerContiguousDims) {
  UM_REQUIRE_CUDA();
  // [B, H, L, D] -> [B, L, H, D]: D stays innermost in both (the vectorised path for 16-byte
  // rows: 32 halfs = 64 bytes; 32 bytes for u8; 4 bytes for bool when D = 4).
  for (DType dt : kAllDTypes) {
    expect_copy_matches(random_any({2, 4, 50, 32}, dt, 10),
                        [](const Tensor& t) { return t.transpose(1, 2); }, "BHLD->BLHD");
    expect_copy_matches(random_any({3, 5, 7, 4}, dt, 11),
                        [](const Tensor& t) { return t.transpose(1, 2); }, "narrow rows");
    // Size-1 dims anywhere (dropped before merging) and a slice of whole rows.
    expect_copy_matches(random_any({1, 6, 1, 10, 16}, dt, 12),
                        [](const Tensor& t) { return t.permute({3, 2, 1, 0, 4}); }, "size-1 dims");
    expect_copy_matches(random_any({9, 24}, dt, 13),
                        [](const Tensor& t) { return t.slice(1, 8, 24); }, "column slice");
  }
}

TEST(CoreCudaCopy, MisalignedViewsFallBack) {
  UM_REQUIRE_CUDA();
  // Offsets of 1, 2, 4, 8 elements shift the base pointer below 16 bytes: each takes the widest
  // vector unit the alignment still allows, or the element kernel.
  for (DType dt : {DType::kF16, DType::kF32, DType::kU8, DType::kI64}) {
    for (int64_t off : {1, 2, 4, 8}) {
      expect_copy_matches(random_any({3, 9, 48}, dt, 20 + static_cast<uint32_t>(off)),
                          [off](const Tensor& t) {
                            return t.slice(2, off, off + 32).permute({1, 0, 2});
                          },
                          "offset " + std::to_string(off));
    }
    // Odd row length: never vectorised.
    expect_copy_matches(random_any({4, 6, 33}, dt, 30),
                        [](const Tensor& t) { return t.permute({1, 0, 2}); }, "odd rows");
  }
}

TEST(CoreCudaCopy, TransposesOfOddSizes) {
  UM_REQUIRE_CUDA();
  for (DType dt : kAllDTypes) {
    // 33 x 65: partial tiles on both edges.
    expect_copy_matches(random_any({33, 65}, dt, 40),
                        [](const Tensor& t) { return t.transpose(0, 1); }, "33x65 transpose");
    // Batched, and a batch dim that is itself strided.
    expect_copy_matches(random_any({3, 33, 65}, dt, 41),
                        [](const Tensor& t) { return t.permute({0, 2, 1}); }, "batched");
    expect_copy_matches(random_any({5, 40, 9}, dt, 42),
                        [](const Tensor& t) { return t.permute({2, 0, 1}); }, "2 batch dims");
    // NCHW -> NHWC and back, odd spatial sizes.
    expect_copy_matches(random_any({2, 20, 9, 11}, dt, 43),
                        [](const Tensor& t) { return t.permute({0, 2, 3, 1}); }, "NCHW->NHWC");
    expect_copy_matches(random_any({2, 9, 11, 20}, dt, 44),
                        [](const Tensor& t) { return t.permute({0, 3, 1, 2}); }, "NHWC->NCHW");
    // Below 8 along a tile axis: the element kernel.
    expect_copy_matches(random_any({5, 3}, dt, 45),
                        [](const Tensor& t) { return t.transpose(0, 1); }, "5x3 transpose");
    // A transposed slice: the src-contiguous dim is a slice (offset 1).
    expect_copy_matches(random_any({17, 70}, dt, 46),
                        [](const Tensor& t) { return t.slice(1, 1, 66).transpose(0, 1); },
                        "sliced transpose");
  }
}

TEST(CoreCudaCopy, WindowPartitionAndReverse) {
  UM_REQUIRE_CUDA();
  // TinyViT: [B, H, W, C] (H = W = 14, windows of 7) -> [B, nh, nw, 7, 7, C] and back; C = 16
  // vectorises, C = 5 does not.
  for (DType dt : {DType::kF16, DType::kF32}) {
    for (int64_t c : {16, 5}) {
      expect_copy_matches(random_any({2, 14, 21, c}, dt, 50),
                          [c](const Tensor& t) {
                            return t.view({2, 2, 7, 3, 7, c}).permute({0, 1, 3, 2, 4, 5});
                          },
                          "window partition C=" + std::to_string(c));
      expect_copy_matches(random_any({12, 7, 7, c}, dt, 51),
                          [c](const Tensor& t) {
                            return t.view({2, 2, 3, 7, 7, c}).permute({0, 1, 3, 2, 4, 5});
                          },
                          "window reverse C=" + std::to_string(c));
      // Channel-first windows: the 6-D permute's innermost dst dim is strided in src.
      expect_copy_matches(random_any({1, c, 14, 14}, dt, 52),
                          [c](const Tensor& t) {
                            return t.view({1, c, 2, 7, 2, 7}).permute({0, 2, 4, 3, 5, 1});
                          },
                          "NCHW window partition C=" + std::to_string(c));
    }
  }
}

// Contiguous float32 <-> float16, which takes the 8-elements-per-thread kernel when 16-byte
// aligned and a whole number of 8-element groups, else the per-element one: the same bits as
// the per-element kernel (kLegacy) and the CPU's conversion, on ties to even, overflow to inf,
// subnormals and infinities (NaN stays NaN), at sizes and offsets that pick either kernel.
TEST(CoreCudaCopy, ContiguousHalfFloatConversions) {
  UM_REQUIRE_CUDA();
  Tensor x = random_cpu({80}, 70, -70000.f, 70000.f);
  const float special[] = {0.f,          -0.f,         1.f,        65504.f,   65520.f,
                           -65536.f,     5.9604645e-8f, 2.9e-8f,   1.00048828125f,
                           1.00146484375f, INFINITY,    -INFINITY, NAN,       -3.f,
                           6.1035156e-5f, 1e-6f};
  for (size_t i = 0; i < std::size(special); ++i) x.data<float>()[i * 5] = special[i];
  const Tensor gx = to_gpu(x);
  const Tensor gh = gx.to(DType::kF16);
  const auto bits_equal = [](const Tensor& a, const Tensor& b, const std::string& what) {
    ASSERT_EQ(a.numel(), b.numel());
    const Tensor af = a.to(DType::kF32), bf = b.to(DType::kF32);
    for (int64_t i = 0; i < a.numel(); ++i) {
      const float u = af.data<float>()[i], v = bf.data<float>()[i];
      if (std::isnan(u) || std::isnan(v)) {
        EXPECT_TRUE(std::isnan(u) && std::isnan(v)) << what << " at " << i;
      } else {
        EXPECT_EQ(std::memcmp(&u, &v, sizeof u), 0) << what << " at " << i << ": " << u << " vs " << v;
      }
    }
  };
  for (int64_t off : {0, 1, 8}) {
    for (int64_t n : {64, 61, 8}) {
      const std::string at = "offset " + std::to_string(off) + ", " + std::to_string(n) + " elements";
      const Tensor want_h = x.slice(0, off, off + n).to(DType::kF16);  // CPU conversion
      const Tensor want_f = want_h.to(DType::kF32);
      Tensor fast_h, fast_f, legacy_h, legacy_f;
      for (cuda::MemopsMode m : {cuda::MemopsMode::kFast, cuda::MemopsMode::kLegacy}) {
        ModeGuard guard(m);
        Tensor& h = m == cuda::MemopsMode::kFast ? fast_h : legacy_h;
        Tensor& f = m == cuda::MemopsMode::kFast ? fast_f : legacy_f;
        h = gx.slice(0, off, off + n).to(DType::kF16).to(Device::cpu());
        f = gh.slice(0, off, off + n).to(DType::kF32).to(Device::cpu());
      }
      bits_equal(fast_h, want_h, "f32 -> f16 vs CPU, " + at);
      bits_equal(fast_h, legacy_h, "f32 -> f16 vs per-element, " + at);
      bits_equal(fast_f, want_f, "f16 -> f32 vs CPU, " + at);
      bits_equal(fast_f, legacy_f, "f16 -> f32 vs per-element, " + at);
    }
  }
}

TEST(CoreCudaCopy, ConvertingCopiesOfViews) {
  UM_REQUIRE_CUDA();
  const ViewFn permute = [](const Tensor& t) { return t.permute({2, 0, 1}); };
  const ViewFn flat = [](const Tensor& t) { return t; };
  // Values in [-100, 100] (floats) or small integers: exact in every target dtype used here.
  expect_copy_matches(random_any({4, 9, 33}, DType::kF32, 60), permute, "f32 view", DType::kF16);
  expect_copy_matches(random_any({4, 9, 33}, DType::kF16, 61), permute, "f16 view", DType::kF32);
  expect_copy_matches(random_any({4, 9, 33}, DType::kF32, 62), flat, "f32", DType::kF16);
  expect_copy_matches(random_any({4, 9, 33}, DType::kF16, 63), flat, "f16", DType::kF32);
  expect_copy_matches(random_any({4, 9, 33}, DType::kU8, 64), permute, "u8 view", DType::kF32);
  expect_copy_matches(random_any({4, 9, 33}, DType::kBool, 65), permute, "bool", DType::kF16);
  expect_copy_matches(random_any({4, 9, 33}, DType::kU8, 66), flat, "u8", DType::kI64);
}

TEST(CoreCudaCopy, BroadcastSingleAndEmpty) {
  UM_REQUIRE_CUDA();
  // A stride-0 (expanded) source: each row of dst reads the same 4 floats.
  const Tensor row = random_cpu({4}, 70);
  const ViewFn expand = [](const Tensor& t) {
    return Tensor(t.storage(), {3, 4}, {0, 1}, t.offset(), t.dtype());
  };
  expect_copy_matches(row, expand, "expanded row");
  // One element behind size-1 dims with arbitrary strides.
  expect_copy_matches(random_cpu({3, 5}, 71),
                      [](const Tensor& t) { return t.slice(0, 2, 3).slice(1, 4, 5).transpose(0, 1); },
                      "single element");
  // Empty tensors: nothing to copy, the right shape back.
  for (cuda::MemopsMode m : kAllModes) {
    ModeGuard guard(m);
    const Tensor e = Tensor::empty({0, 5}, DType::kF16, Device::cuda());
    EXPECT_EQ(e.transpose(0, 1).contiguous().shape(), (Shape{5, 0}));
    Tensor dst = Tensor::empty({5, 0}, DType::kF32, Device::cuda());
    cuda::copy_strided(dst, e.transpose(0, 1));
    EXPECT_EQ(dst.numel(), 0);
  }
}

TEST(CoreCudaCopy, DirectCallsMemcpyAndPermutedDestination) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({24, 40}, 80);
  const Tensor gx = x.to(Device::cuda());
  for (cuda::MemopsMode m : kAllModes) {
    ModeGuard guard(m);
    // Contiguous into contiguous, same dtype: the D2D memcpy path (copy_from would not reach
    // copy_strided for this pair; call it directly). A row slice keeps it contiguous.
    Tensor d1 = Tensor::empty({3, 40}, DType::kF32, Device::cuda());
    cuda::copy_strided(d1, gx.slice(0, 2, 5));
    EXPECT_TRUE(same_bytes(d1.to(Device::cpu()), x.slice(0, 2, 5))) << mode_name(m);
    // Into a permuted destination: dst is [40, 24] viewed as [24, 40]; walking dst row-major
    // makes it a transpose.
    Tensor d2 = Tensor::empty({40, 24}, DType::kF32, Device::cuda());
    d2.transpose(0, 1).copy_from(gx);
    EXPECT_TRUE(same_bytes(d2.to(Device::cpu()), x.transpose(0, 1))) << mode_name(m);
    // Shape mismatch is an error, not a crash.
    EXPECT_THROW(cuda::copy_strided(d1, gx), Error);
  }
}

TEST(CoreCudaCopy, OffsetsBeyond32Bits) {
  UM_REQUIRE_CUDA();
  // A [2, 64] u8 view whose rows lie 2^31 + 65 bytes apart in one 2 GiB allocation: its largest
  // offset does not fit 32 bits (and the odd gap rules out vector units), so the element kernels
  // must choose 64-bit index arithmetic.
  const int64_t gap = (int64_t{1} << 31) + 65;
  Tensor big = Tensor::zeros({gap + 64}, DType::kU8, Device::cuda());
  const Tensor rows = random_any({2, 64}, DType::kU8, 90);
  big.slice(0, 0, 64).copy_from(rows.select(0, 0).to(Device::cuda()));
  big.slice(0, gap, gap + 64).copy_from(rows.select(0, 1).contiguous().to(Device::cuda()));
  const Tensor view(big.storage(), {2, 64}, {gap, 1}, big.offset(), DType::kU8);
  const Tensor view_t(big.storage(), {64, 2}, {1, gap}, big.offset(), DType::kU8);
  for (cuda::MemopsMode m : kAllModes) {
    ModeGuard guard(m);
    EXPECT_TRUE(same_bytes(view.contiguous().to(Device::cpu()), rows)) << mode_name(m);
    EXPECT_TRUE(same_bytes(view_t.contiguous().to(Device::cpu()), rows.transpose(0, 1)))
        << mode_name(m);
    EXPECT_TRUE(same_bytes(view.to(DType::kF32).to(Device::cpu()), rows.to(DType::kF32)))
        << mode_name(m);
  }
}

}  // namespace
}  // namespace um
