// GPU tests of the post-processing that runs inside the CUDA frame graph: the weight maps
// (mask_weights_cuda.h) must equal compute_mask_weights BYTE FOR BYTE, and the quality stats
// (quality_stats_cuda.h) must equal compute_quality_stats EXACTLY (struct ==), on phantom
// masks of the demo sizes and on hand-made masks chosen for the edge cases: empty, full, masks
// touching the frame border, 1-pixel-wide lines, single pixels, 1-pixel-wide frames, nonzero
// values other than 1, random noise. Also: both calls can be captured in a CUDA graph and
// replayed on new data, the stats buffer is re-zeroed on every call, bad tensors throw.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_runtime.h"
#include "core/cuda/stream_context.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "pipeline/mask_weights.h"
#include "pipeline/mask_weights_cuda.h"
#include "pipeline/phantom.h"
#include "pipeline/quality_stats.h"
#include "pipeline/quality_stats_cuda.h"

namespace um::pipeline {
namespace {

using Bytes = std::vector<uint8_t>;

struct Case {
  std::string name;
  int width = 0, height = 0;
  Bytes mask, frame;
};

Tensor to_device(const Bytes& b, int h, int w) {
  Tensor c = Tensor::empty({h, w}, DType::kU8);
  std::memcpy(c.data<uint8_t>(), b.data(), b.size());
  return c.to(Device::cuda());
}

Bytes to_host(const Tensor& t) {
  UM_CUDA_CHECK(cudaDeviceSynchronize());  // whatever stream produced it
  const Tensor c = t.to(Device::cpu()).contiguous();
  const uint8_t* p = c.data<uint8_t>();
  return Bytes(p, p + c.numel());
}

QualityPixelStats stats_to_host(const Tensor& buf) {
  const Bytes b = to_host(buf);
  EXPECT_EQ(b.size(), sizeof(QualityPixelStats));
  QualityPixelStats s{};
  std::memcpy(&s, b.data(), std::min(b.size(), sizeof(s)));
  return s;
}

// Where two stats differ, in words (for the failure message).
std::string stats_diff(const QualityPixelStats& gpu, const QualityPixelStats& cpu) {
  std::string d;
  for (int b = 0; b < kGradientBins; ++b) {
    if (gpu.grad_hist[b] != cpu.grad_hist[b]) {
      d += " hist[" + std::to_string(b) + "] gpu " + std::to_string(gpu.grad_hist[b]) + " cpu " +
           std::to_string(cpu.grad_hist[b]) + ";";
      if (d.size() > 400) break;
    }
  }
  auto field = [&](const char* name, uint64_t g, uint64_t c) {
    if (g != c) d += std::string(" ") + name + " gpu " + std::to_string(g) + " cpu " + std::to_string(c) + ";";
  };
  field("edge_sum_q16", gpu.edge_sum_q16, cpu.edge_sum_q16);
  field("edge_n", gpu.edge_n, cpu.edge_n);
  field("in_sum", gpu.in_sum, cpu.in_sum);
  field("in_n", gpu.in_n, cpu.in_n);
  field("mask_sum", gpu.mask_sum, cpu.mask_sum);
  field("mask_n", gpu.mask_n, cpu.mask_n);
  field("out_sum", gpu.out_sum, cpu.out_sum);
  field("out_n", gpu.out_n, cpu.out_n);
  return d;
}

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& v : b) v = static_cast<uint8_t>(rng() & 0xFF);
  return b;
}

// Hand-made masks on one frame size; frames alternate random bytes and a 0/255 checkerboard
// (the largest gradients).
void add_synthetic_cases(std::vector<Case>& cases, int w, int h, uint32_t seed) {
  const size_t n = static_cast<size_t>(w) * h;
  auto add = [&](const std::string& what, Bytes mask) {
    Case c;
    c.name = what + " " + std::to_string(h) + "x" + std::to_string(w);
    c.width = w;
    c.height = h;
    c.mask = std::move(mask);
    if (cases.size() % 2 == 0) {
      c.frame = random_bytes(n, seed + static_cast<uint32_t>(cases.size()));
    } else {
      c.frame.resize(n);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) c.frame[static_cast<size_t>(y) * w + x] = ((x + y) & 1) ? 255 : 0;
    }
    cases.push_back(std::move(c));
  };
  auto at = [&](Bytes& m, int x, int y, uint8_t v = 1) {
    if (x >= 0 && x < w && y >= 0 && y < h) m[static_cast<size_t>(y) * w + x] = v;
  };
  add("empty", Bytes(n, 0));
  add("full", Bytes(n, 1));
  add("full of 255", Bytes(n, 255));
  {
    Bytes m(n, 0);  // a block over the top-left corner, touching two borders
    for (int y = 0; y < h / 2 + 1; ++y)
      for (int x = 0; x < w / 3 + 1; ++x) at(m, x, y);
    add("corner block", m);
  }
  {
    Bytes m(n, 0);  // the 1-pixel ring along the frame border
    for (int x = 0; x < w; ++x) at(m, x, 0), at(m, x, h - 1);
    for (int y = 0; y < h; ++y) at(m, 0, y), at(m, w - 1, y);
    add("border ring", m);
  }
  {
    Bytes m(n, 0);  // 1-pixel lines: horizontal, vertical, diagonal, anti-diagonal
    for (int x = 0; x < w; ++x) at(m, x, h / 2);
    for (int y = 0; y < h; ++y) at(m, w / 3, y), at(m, y, y), at(m, w - 1 - y, y, 7);
    add("thin lines", m);
  }
  {
    Bytes m(n, 0);  // lines on the last row and column
    for (int x = 0; x < w; ++x) at(m, x, h - 1);
    for (int y = 0; y < h; ++y) at(m, w - 1, y);
    add("lines on the far border", m);
  }
  {
    Bytes m(n, 0);  // single pixels: corners, centre, one next to the edge
    at(m, 0, 0), at(m, w - 1, 0), at(m, 0, h - 1), at(m, w - 1, h - 1), at(m, w / 2, h / 2);
    at(m, 1, h / 2, 200);
    add("single pixels", m);
  }
  {
    Bytes m = random_bytes(n, seed + 100);  // dense noise, all nonzero values count as 1
    for (auto& v : m) v = (v & 1) ? v : 0;
    add("dense noise", m);
  }
  {
    Bytes m = random_bytes(n, seed + 200);  // sparse noise
    for (auto& v : m) v = v < 13 ? 1 : 0;
    add("sparse noise", m);
  }
  {
    Bytes full(n, 1);  // full with a hole
    at(full, w / 2, h / 2, 0);
    add("full with a 1-pixel hole", full);
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  // Phantom frames and masks of the demo sizes, and an odd size that is no multiple of a tile.
  const std::vector<FrameSize> sizes = {{558, 422}, {480, 640}, {600, 800}, {512, 512},
                                        {131, 257}};
  uint64_t seed = 31;
  for (const FrameSize& s : sizes) {
    PhantomGenerator gen(seed++, s);
    int taken = 0;
    for (int i = 0; i < 20 && taken < 2; ++i) {
      PhantomFrame f = gen.next();
      if (!f.has_box && taken == 0 && i < 19) continue;  // a bone first
      Case c;
      c.name = "phantom " + std::to_string(s.height) + "x" + std::to_string(s.width) + " #" +
               std::to_string(i);
      c.width = s.width;
      c.height = s.height;
      c.mask = std::move(f.mask);
      c.frame = std::move(f.pixels);
      cases.push_back(std::move(c));
      ++taken;
    }
  }
  // Hand-made masks on small and degenerate sizes (W x H).
  const int small[][2] = {{1, 1}, {1, 9}, {9, 1}, {2, 2}, {3, 5}, {37, 5}, {33, 9},
                          {31, 7}, {64, 16}, {100, 37}, {422, 558}};
  uint32_t s2 = 7;
  for (const auto& wh : small) add_synthetic_cases(cases, wh[0], wh[1], s2 += 1000);
  return cases;
}

TEST(PipelinePostCuda, WeightMapsEqualTheCpuByteForByte) {
  UM_REQUIRE_CUDA();
  int failures = 0;
  for (const Case& c : all_cases()) {
    const MaskWeights cpu = compute_mask_weights(c.mask, c.width, c.height);
    const Tensor mask = to_device(c.mask, c.height, c.width);
    Tensor w_in = Tensor::empty({c.height, c.width}, DType::kU8, Device::cuda());
    Tensor w_edge = Tensor::empty({c.height, c.width}, DType::kU8, Device::cuda());
    Tensor w_out = Tensor::empty({c.height, c.width}, DType::kU8, Device::cuda());
    compute_mask_weights_cuda(mask, w_in, w_edge, w_out);
    const Bytes g_in = to_host(w_in), g_edge = to_host(w_edge), g_out = to_host(w_out);
    auto first_diff = [&](const Bytes& g, const Bytes& r) -> long {
      for (size_t i = 0; i < r.size(); ++i)
        if (g[i] != r[i]) return static_cast<long>(i);
      return -1;
    };
    const long d_in = first_diff(g_in, cpu.w_in), d_edge = first_diff(g_edge, cpu.w_edge),
               d_out = first_diff(g_out, cpu.w_out);
    EXPECT_EQ(d_in, -1) << c.name << ": W_in differs first at (x " << d_in % c.width << ", y "
                        << d_in / c.width << ")";
    EXPECT_EQ(d_edge, -1) << c.name << ": W_edge differs first at (x " << d_edge % c.width
                          << ", y " << d_edge / c.width << ")";
    EXPECT_EQ(d_out, -1) << c.name << ": W_out differs first at (x " << d_out % c.width << ", y "
                         << d_out / c.width << ")";
    failures += (d_in != -1) + (d_edge != -1) + (d_out != -1);
    if (failures > 20) break;
  }
}

TEST(PipelinePostCuda, QualityStatsEqualTheCpuExactly) {
  UM_REQUIRE_CUDA();
  int failures = 0, with_edge = 0;
  for (const Case& c : all_cases()) {
    // The maps from the GPU (tested byte-exact above) and from the CPU.
    const MaskWeights cpu_maps = compute_mask_weights(c.mask, c.width, c.height);
    QualityPixelStats cpu{};
    compute_quality_stats(c.frame.data(), c.mask.data(), cpu_maps.w_in.data(),
                          cpu_maps.w_edge.data(), cpu_maps.w_out.data(), c.width, c.height, cpu);
    const Tensor frame = to_device(c.frame, c.height, c.width);
    const Tensor mask = to_device(c.mask, c.height, c.width);
    Tensor w_in = Tensor::empty({c.height, c.width}, DType::kU8, Device::cuda());
    Tensor w_edge = Tensor::empty({c.height, c.width}, DType::kU8, Device::cuda());
    Tensor w_out = Tensor::empty({c.height, c.width}, DType::kU8, Device::cuda());
    compute_mask_weights_cuda(mask, w_in, w_edge, w_out);
    Tensor buf = make_quality_stats_buffer_cuda();
    compute_quality_stats_cuda(frame, mask, w_in, w_edge, w_out, buf);
    const QualityPixelStats gpu = stats_to_host(buf);
    const bool same = gpu == cpu;
    EXPECT_TRUE(same) << c.name << ":" << stats_diff(gpu, cpu);
    // Again into the same buffer: re-zeroed, not accumulated.
    compute_quality_stats_cuda(frame, mask, w_in, w_edge, w_out, buf);
    const QualityPixelStats again = stats_to_host(buf);
    EXPECT_TRUE(again == cpu) << c.name << " (second call):" << stats_diff(again, cpu);
    if (same) {
      EXPECT_EQ(sharpness_from_stats(gpu), sharpness_from_stats(cpu));
    }
    with_edge += cpu.edge_n > 0 && cpu.edge_sum_q16 > 0;
    failures += !same;
    if (failures > 10) break;
  }
  EXPECT_GT(with_edge, 20);  // the sums were exercised, not only empty maps
}

TEST(PipelinePostCuda, BothCallsCaptureInAGraphAndReplayOnNewData) {
  UM_REQUIRE_CUDA();
  const int h = 558, w = 422;
  PhantomGenerator gen(77, FrameSize{h, w});
  cuda::Stream stream;
  cuda::StreamScope scope(stream.get());
  Tensor frame = Tensor::zeros({h, w}, DType::kU8, Device::cuda());
  Tensor mask = Tensor::zeros({h, w}, DType::kU8, Device::cuda());
  Tensor w_in = Tensor::empty({h, w}, DType::kU8, Device::cuda());
  Tensor w_edge = Tensor::empty({h, w}, DType::kU8, Device::cuda());
  Tensor w_out = Tensor::empty({h, w}, DType::kU8, Device::cuda());
  Tensor buf = make_quality_stats_buffer_cuda();
  UM_CUDA_CHECK(cudaDeviceSynchronize());

  cudaGraph_t graph = nullptr;
  UM_CUDA_CHECK(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal));
  compute_mask_weights_cuda(mask, w_in, w_edge, w_out);
  compute_quality_stats_cuda(frame, mask, w_in, w_edge, w_out, buf);
  UM_CUDA_CHECK(cudaStreamEndCapture(stream.get(), &graph));
  ASSERT_NE(graph, nullptr);
  cudaGraphExec_t exec = nullptr;
  UM_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  cudaGraphDestroy(graph);

  for (int k = 0; k < 3; ++k) {
    PhantomFrame f = gen.next();
    UM_CUDA_CHECK(cudaMemcpy(frame.raw_data(), f.pixels.data(), f.pixels.size(),
                             cudaMemcpyHostToDevice));
    UM_CUDA_CHECK(cudaMemcpy(mask.raw_data(), f.mask.data(), f.mask.size(),
                             cudaMemcpyHostToDevice));
    UM_CUDA_CHECK(cudaGraphLaunch(exec, stream.get()));
    cuda::synchronize(stream.get());
    const MaskWeights cpu_maps = compute_mask_weights(f.mask, w, h);
    QualityPixelStats cpu{};
    compute_quality_stats(f.pixels.data(), f.mask.data(), cpu_maps.w_in.data(),
                          cpu_maps.w_edge.data(), cpu_maps.w_out.data(), w, h, cpu);
    EXPECT_TRUE(to_host(w_in) == cpu_maps.w_in) << "replay " << k;
    EXPECT_TRUE(to_host(w_edge) == cpu_maps.w_edge) << "replay " << k;
    EXPECT_TRUE(to_host(w_out) == cpu_maps.w_out) << "replay " << k;
    const QualityPixelStats gpu = stats_to_host(buf);
    EXPECT_TRUE(gpu == cpu) << "replay " << k << ":" << stats_diff(gpu, cpu);
  }
  cudaGraphExecDestroy(exec);
}

TEST(PipelinePostCuda, BadTensorsThrow) {
  UM_REQUIRE_CUDA();
  const int h = 12, w = 10;
  const Tensor mask = Tensor::zeros({h, w}, DType::kU8, Device::cuda());
  Tensor a = Tensor::empty({h, w}, DType::kU8, Device::cuda());
  Tensor b = Tensor::empty({h, w}, DType::kU8, Device::cuda());
  Tensor c = Tensor::empty({h, w}, DType::kU8, Device::cuda());
  Tensor cpu_mask = Tensor::zeros({h, w}, DType::kU8);
  Tensor f32 = Tensor::zeros({h, w}, DType::kF32, Device::cuda());
  Tensor other = Tensor::empty({h, w + 1}, DType::kU8, Device::cuda());
  Tensor flat = Tensor::empty({h * w}, DType::kU8, Device::cuda());
  Tensor mask_copy = mask;
  EXPECT_THROW(compute_mask_weights_cuda(cpu_mask, a, b, c), Error);
  EXPECT_THROW(compute_mask_weights_cuda(f32, a, b, c), Error);
  EXPECT_THROW(compute_mask_weights_cuda(flat, a, b, c), Error);
  EXPECT_THROW(compute_mask_weights_cuda(mask, a, b, other), Error);
  EXPECT_THROW(compute_mask_weights_cuda(mask, a, a, c), Error);
  EXPECT_THROW(compute_mask_weights_cuda(mask, mask_copy, b, c), Error);
  Tensor undefined;
  EXPECT_THROW(compute_mask_weights_cuda(mask, a, b, undefined), Error);
  EXPECT_NO_THROW(compute_mask_weights_cuda(mask, a, b, c));

  Tensor buf = make_quality_stats_buffer_cuda();
  Tensor small_buf = Tensor::empty({64}, DType::kU8, Device::cuda());
  Tensor misaligned = Tensor::empty({static_cast<int64_t>(sizeof(QualityPixelStats)) + 1},
                                    DType::kU8, Device::cuda())
                          .slice(0, 1, static_cast<int64_t>(sizeof(QualityPixelStats)) + 1);
  EXPECT_THROW(compute_quality_stats_cuda(mask, mask, a, b, c, small_buf), Error);
  EXPECT_THROW(compute_quality_stats_cuda(mask, mask, a, b, c, misaligned), Error);
  EXPECT_THROW(compute_quality_stats_cuda(mask, cpu_mask, a, b, c, buf), Error);
  EXPECT_THROW(compute_quality_stats_cuda(mask, mask, a, b, other, buf), Error);
  EXPECT_THROW(compute_quality_stats_cuda(f32, mask, a, b, c, buf), Error);
  EXPECT_NO_THROW(compute_quality_stats_cuda(mask, mask, a, b, c, buf));
  UM_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace
}  // namespace um::pipeline
