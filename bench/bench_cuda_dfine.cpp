// File: bench/bench_cuda_dfine.cpp
// Purpose: GPU time of D-FINE's host-free frame path (DFine::preprocess_device -> forward ->
// top1_device), float32 and float16 (arg f16 = 0 / 1), on D-FINE-S (the dfine_s fixture
// checkpoint, arg n = 0) and D-FINE-N (the phantom checkpoint in models/phantom, arg n = 1):
// preprocessing alone, the network alone, the eager frame, and the same frame captured once as a
// CUDA graph and replayed. The frame is a 422x558 gray pattern (the weights and pixels do not
// change the time). Timing: CUDA events around each iteration on a private stream (idle gaps
// while the host launches count: that is the eager latency), after a warm-up that fills the
// per-shape caches and the pool; report the median of the repetitions. Without the CUDA backend,
// a GPU or the checkpoint, each benchmark reports SkipWithError.
// BM_DFineGpuForwardPolicy: the D-FINE-S forward per float16 precision policy (arg policy:
// 0 float32, 1 all half, 2 backbone half (encoder and decoder float32), 3 backbone and encoder
// half (decoder float32); Options::half_*), so the cost of each policy is seen next to its error
// (tests/cuda/dfine_cuda_test.cpp Float16Diagnostics).
// Run: build/bench/bench_cuda_dfine --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "core/tensor.h"
#include "models/dfine/dfine.h"
#include "cuda_bench_util.h"
#include "test_support.h"

namespace {

using um::Tensor;
using namespace um::dfine;

#ifdef UM_WITH_CUDA
constexpr int kW = 422, kH = 558;

struct GpuSetup {
  std::unique_ptr<DFine> model[2][2];  // [variant: S, N][dtype: f32, f16]
  std::string error[2];
  Tensor frame;  // uint8 [H, W] on the GPU
  bool gpu = false;
};

GpuSetup& gpu_setup() {
  static GpuSetup s = [] {
    GpuSetup r;
    if (!um::cuda::available()) {
      r.error[0] = r.error[1] = "no usable CUDA device";
      return r;
    }
    um::cuda::install_tensor_backend();
    r.gpu = true;
    const std::string paths[2] = {
        (um::test::fixtures_dir() / "dfine_s" / "checkpoint.pth").string(),
        (um::test::source_dir() / "models" / "phantom" / "dfine_n_phantom.pth").string()};
    const um::DType dtypes[2] = {um::DType::kF32, um::DType::kF16};
    for (int v = 0; v < 2; ++v) {
      for (int d = 0; d < 2; ++d) {
        Options opt;
        opt.device = um::Device::cuda();
        opt.dtype = dtypes[d];
        auto m = DFine::load(paths[v], opt);
        if (!m.ok()) {
          r.error[v] = m.status().to_string();
          break;
        }
        r.model[v][d] = std::move(m).value();
      }
    }
    Tensor frame = Tensor::empty({kH, kW}, um::DType::kU8);
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x)
        frame.data<uint8_t>()[y * kW + x] = static_cast<uint8_t>((x * 7 + y * 3) % 256);
    r.frame = frame.to(um::Device::cuda());
    return r;
  }();
  return s;
}

bool ready(benchmark::State& state) {
  const GpuSetup& s = gpu_setup();
  const std::string& err = s.error[state.range(1)];
  if (!err.empty()) {
    um::bench::skip(state, err.c_str());
    return false;
  }
  return true;
}

const DFine& model(const benchmark::State& state) {
  return *gpu_setup().model[state.range(1)][state.range(0)];
}

Tensor frame_path(const DFine& m) {
  return m.top1_device(m.forward(m.preprocess_device(gpu_setup().frame)), m.geometry(kW, kH));
}

// D-FINE-S per precision policy (BM_DFineGpuForwardPolicy), loaded on first use.
struct PolicySetup {
  std::unique_ptr<DFine> model[4];
  std::string error;
};

PolicySetup& policy_setup() {
  static PolicySetup s = [] {
    PolicySetup r;
    if (!gpu_setup().gpu) {
      r.error = "no usable CUDA device";
      return r;
    }
    const std::string path = (um::test::fixtures_dir() / "dfine_s" / "checkpoint.pth").string();
    struct P {
      um::DType dtype;
      bool backbone, encoder, decoder;
    };
    const P policies[4] = {{um::DType::kF32, false, false, false},
                           {um::DType::kF16, true, true, true},
                           {um::DType::kF16, true, false, false},
                           {um::DType::kF16, true, true, false}};
    for (int i = 0; i < 4; ++i) {
      Options opt;
      opt.device = um::Device::cuda();
      opt.dtype = policies[i].dtype;
      opt.half_backbone = policies[i].backbone;
      opt.half_encoder = policies[i].encoder;
      opt.half_decoder = policies[i].decoder;
      auto m = DFine::load(path, opt);
      if (!m.ok()) {
        r.error = m.status().to_string();
        return r;
      }
      r.model[i] = std::move(m).value();
    }
    return r;
  }();
  return s;
}

void BM_DFineGpuForwardPolicy(benchmark::State& state) {
  const PolicySetup& s = policy_setup();
  if (!s.error.empty()) {
    um::bench::skip(state, s.error.c_str());
    return;
  }
  const DFine& m = *s.model[state.range(0)];
  const Tensor input = m.preprocess_device(gpu_setup().frame);
  um::bench::time_on_gpu(state, [&] { benchmark::DoNotOptimize(m.forward(input)); });
}

void BM_DFineGpuPreprocess(benchmark::State& state) {
  if (!ready(state)) return;
  um::bench::time_on_gpu(state, [&] {
    benchmark::DoNotOptimize(model(state).preprocess_device(gpu_setup().frame));
  });
}

void BM_DFineGpuForward(benchmark::State& state) {
  if (!ready(state)) return;
  const Tensor input = model(state).preprocess_device(gpu_setup().frame);
  um::bench::time_on_gpu(state, [&] { benchmark::DoNotOptimize(model(state).forward(input)); });
}

void BM_DFineGpuFrameEager(benchmark::State& state) {
  if (!ready(state)) return;
  um::bench::time_on_gpu(state, [&] { benchmark::DoNotOptimize(frame_path(model(state))); });
}

void BM_DFineGpuFrameGraph(benchmark::State& state) {
  if (!ready(state)) return;
  um::bench::time_graph_replay(state, [&] { return frame_path(model(state)); });
}

#else
UM_BENCH_SKIP_WITHOUT_CUDA(BM_DFineGpuPreprocess)
UM_BENCH_SKIP_WITHOUT_CUDA(BM_DFineGpuForward)
UM_BENCH_SKIP_WITHOUT_CUDA(BM_DFineGpuFrameEager)
UM_BENCH_SKIP_WITHOUT_CUDA(BM_DFineGpuFrameGraph)
UM_BENCH_SKIP_WITHOUT_CUDA(BM_DFineGpuForwardPolicy)
#endif

#define UM_DFINE_GPU_BENCH(fn)                                                          \
  BENCHMARK(fn)->ArgsProduct({{0, 1}, {0, 1}})->ArgNames({"f16", "n"})->UseManualTime() \
      ->Unit(benchmark::kMillisecond)
UM_DFINE_GPU_BENCH(BM_DFineGpuPreprocess);
UM_DFINE_GPU_BENCH(BM_DFineGpuForward);
UM_DFINE_GPU_BENCH(BM_DFineGpuFrameEager);
UM_DFINE_GPU_BENCH(BM_DFineGpuFrameGraph);
BENCHMARK(BM_DFineGpuForwardPolicy)
    ->DenseRange(0, 3)
    ->ArgName("policy")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
