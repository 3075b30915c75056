// File: src/nn/resize_antialias_cuda.cu
// Purpose: the GPU path of resize_bilinear_antialias_u8 (Pillow-exact antialiased bilinear resize
// of uint8 [H, W, C] images, see resize_antialias.h). Same taps (computed on the host by
// resize_antialias.cpp's code), same integer arithmetic (int64 accumulators starting at 2^21,
// arithmetic shift by 22, clip to [0, 255]), same two passes (horizontal into an 8-bit
// intermediate, then vertical; a pass whose size does not change is skipped, as Pillow does), so
// the output equals the CPU's byte for byte.
// The packed taps of each (device, input size, output size) are uploaded once and kept for the
// life of the process in a host-side cache: that first call makes one synchronous copy; every
// later call only queues kernels on um::cuda::current_stream(), so it can be graph-captured.
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "core/cuda/device_pool.h"
#include "nn/cuda_op_util.cuh"
#include "nn/resize_antialias.h"

namespace um::nn::detail {
namespace {

constexpr int kThreads = 256;
constexpr int kPrecisionBits = 32 - 8 - 2;  // as resize_antialias.cpp (Pillow, 8-bit images)

// Packed taps of one axis on the device: per output sample [first, count, ksize weights].
struct DeviceTaps {
  Tensor table;  // int32 [out * (2 + ksize)]
  int64_t ksize = 0;
};

const DeviceTaps& device_taps(int device, int64_t in_size, int64_t out_size) {
  static std::mutex mu;
  // Never destroyed: its tensors would otherwise be freed into the pool during static teardown.
  static auto* cache = new std::map<std::tuple<int, int64_t, int64_t>, DeviceTaps>();
  const std::lock_guard<std::mutex> lock(mu);
  const auto key = std::make_tuple(device, in_size, out_size);
  const auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  DeviceTaps t;
  const std::vector<int32_t> packed = antialias_taps_packed(in_size, out_size, &t.ksize);
  Tensor host = Tensor::empty({static_cast<int64_t>(packed.size())}, DType::kI32);
  std::copy(packed.begin(), packed.end(), host.data<int32_t>());
  {
    // From the process-wide pool: a frame's graph-private pool (if one is current) must not
    // lend a block to a cache that outlives it.
    um::cuda::PoolScope scope(&um::cuda::default_pool(device));
    t.table = host.to(Device::cuda(device));  // synchronous: first call of this size only
  }
  return cache->emplace(key, std::move(t)).first->second;
}

__device__ __forceinline__ uint8_t clip8(int64_t acc) {
  const int64_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// A uint8 [rows, cols, ch] image of any strides.
struct U8Image {
  const uint8_t* data;
  int64_t s0, s1, s2;
};

// Pass 1: dst [rows, out_w, ch] (contiguous), dst(y, x, c) = sum_j src(y, first[x] + j, c) * w[x][j].
__global__ void horizontal_kernel(U8Image src, uint8_t* __restrict__ dst,
                                  const int32_t* __restrict__ taps, int64_t ksize, int64_t out_w,
                                  int64_t ch, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % ch;
    const int64_t x = (i / ch) % out_w;
    const int64_t y = i / (ch * out_w);
    const int32_t* t = taps + x * (2 + ksize);
    const int64_t first = t[0], count = t[1];
    const uint8_t* s = src.data + y * src.s0 + first * src.s1 + c * src.s2;
    int64_t acc = int64_t{1} << (kPrecisionBits - 1);
    for (int64_t j = 0; j < count; ++j) acc += int64_t{s[j * src.s1]} * t[2 + j];
    dst[i] = clip8(acc);
  }
}

// Pass 2: dst [out_h, w, ch] (contiguous), dst(y, x, c) = sum_j src(first[y] + j, x, c) * w[y][j].
__global__ void vertical_kernel(U8Image src, uint8_t* __restrict__ dst,
                                const int32_t* __restrict__ taps, int64_t ksize, int64_t w,
                                int64_t ch, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % ch;
    const int64_t x = (i / ch) % w;
    const int64_t y = i / (ch * w);
    const int32_t* t = taps + y * (2 + ksize);
    const int64_t first = t[0], count = t[1];
    const uint8_t* s = src.data + first * src.s0 + x * src.s1 + c * src.s2;
    int64_t acc = int64_t{1} << (kPrecisionBits - 1);
    for (int64_t j = 0; j < count; ++j) acc += int64_t{s[j * src.s0]} * t[2 + j];
    dst[i] = clip8(acc);
  }
}

}  // namespace

// Arguments (uint8, rank 3, positive sizes) were checked by resize_bilinear_antialias_u8.
Tensor resize_bilinear_antialias_u8_cuda(const Tensor& image, int64_t out_h, int64_t out_w) {
  static constexpr const char* kOp = "resize_bilinear_antialias_u8";
  const int64_t in_h = image.size(0), in_w = image.size(1), ch = image.size(2);
  const int device = image.device().index;
  Tensor out = Tensor::empty({out_h, out_w, ch}, DType::kU8, image.device());
  if (out_h == in_h && out_w == in_w) {  // nothing to resample: a (strided) device copy
    out.copy_from(image);
    return out;
  }
  U8Image rows{image.data<uint8_t>(), image.strides()[0], image.strides()[1], image.strides()[2]};
  Tensor mid;  // the 8-bit intermediate [in_h, out_w, ch]; keeps its block until both are queued
  if (out_w != in_w) {
    const DeviceTaps& tx = device_taps(device, in_w, out_w);
    mid = out_h == in_h ? out : Tensor::empty({in_h, out_w, ch}, DType::kU8, image.device());
    const int64_t total = mid.numel();
    horizontal_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(
        rows, mid.data<uint8_t>(), tx.table.data<int32_t>(), tx.ksize, out_w, ch, total);
    check_launch(kOp);
    if (out_h == in_h) return out;
    rows = U8Image{mid.data<uint8_t>(), out_w * ch, ch, 1};
  }
  const DeviceTaps& ty = device_taps(device, in_h, out_h);
  const int64_t total = out.numel();
  vertical_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(
      rows, out.data<uint8_t>(), ty.table.data<int32_t>(), ty.ksize, out_w, ch, total);
  check_launch(kOp);
  return out;
}

}  // namespace um::nn::detail
