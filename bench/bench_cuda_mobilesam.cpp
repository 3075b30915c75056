// File: bench/bench_cuda_mobilesam.cpp
// Purpose: GPU time of MobileSAM's host-free frame path (models/mobilesam/device_path.h), float32
// and float16 (arg 0 / 1), stage by stage and whole: preprocess_device (Pillow-exact resize,
// normalise, pad), the image encoder, predict_box_device (box prompt + decoder + postprocess +
// threshold), the eager frame, and the same frame captured once as a CUDA graph and replayed.
// The phantom checkpoint (models/phantom) on a 558x422 phantom frame with its ground-truth box:
// the weights do not change the time. Timing: CUDA events around each iteration on a private
// stream (idle gaps while the host launches count: that is the eager latency), after a warm-up
// that fills the per-shape caches and the pool; report the median of the repetitions. Without
// the CUDA backend or a GPU each benchmark reports SkipWithError.
// Run: build/bench/bench_cuda_mobilesam --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "models/mobilesam/device_path.h"
#include "models/mobilesam/mobilesam.h"
#include "pipeline/phantom.h"
#include "cuda_bench_util.h"
#include "test_support.h"

namespace {

using um::Tensor;
using namespace um::mobilesam;

#ifdef UM_WITH_CUDA
struct GpuSetup {
  std::shared_ptr<const MobileSam> model[2];  // float32, float16
  Tensor frame, box;                          // uint8 [H, W], float32 [4], on the GPU
  int64_t h = 558, w = 422;
  std::string error;
};

GpuSetup& gpu_setup() {
  static GpuSetup s = [] {
    GpuSetup r;
    if (!um::cuda::available()) {
      r.error = "no usable CUDA device";
      return r;
    }
    const auto path = (um::test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
    const um::DType dtypes[2] = {um::DType::kF32, um::DType::kF16};
    for (int i = 0; i < 2; ++i) {
      auto m = MobileSam::load(path, um::Device::cuda(), dtypes[i]);
      if (!m.ok()) {
        r.error = m.status().to_string();
        return r;
      }
      r.model[i] = *m;
    }
    um::pipeline::PhantomGenerator gen(11, um::pipeline::FrameSize{558, 422});
    const um::pipeline::PhantomFrame f = gen.next();
    Tensor frame = Tensor::empty({r.h, r.w}, um::DType::kU8);
    std::copy(f.pixels.begin(), f.pixels.end(), frame.data<uint8_t>());
    r.frame = frame.to(um::Device::cuda());
    r.box = Tensor::from_vector({float(f.box[0]), float(f.box[1]), float(f.box[2]),
                                 float(f.box[3])},
                                {4})
                .to(um::Device::cuda());
    return r;
  }();
  return s;
}

bool ready(benchmark::State& state) {
  if (!gpu_setup().error.empty()) {
    um::bench::skip(state, gpu_setup().error.c_str());
    return false;
  }
  return true;
}

const MobileSam& model(const benchmark::State& state) { return *gpu_setup().model[state.range(0)]; }

BoxPrediction frame_path(const MobileSam& m) {
  const GpuSetup& s = gpu_setup();
  const Tensor emb = encode_image_device(m, preprocess_device(m, s.frame));
  return predict_box_device(m, emb, s.box, s.h, s.w);
}

void BM_SamGpuPreprocess(benchmark::State& state) {
  if (!ready(state)) return;
  um::bench::time_on_gpu(state, [&] {
    benchmark::DoNotOptimize(preprocess_device(model(state), gpu_setup().frame));
  });
}

void BM_SamGpuEncoder(benchmark::State& state) {
  if (!ready(state)) return;
  const Tensor input = preprocess_device(model(state), gpu_setup().frame);
  um::bench::time_on_gpu(state, [&] {
    benchmark::DoNotOptimize(encode_image_device(model(state), input));
  });
}

void BM_SamGpuBoxDecoder(benchmark::State& state) {
  if (!ready(state)) return;
  const GpuSetup& s = gpu_setup();
  const Tensor emb = encode_image_device(model(state), preprocess_device(model(state), s.frame));
  um::bench::time_on_gpu(state, [&] {
    benchmark::DoNotOptimize(predict_box_device(model(state), emb, s.box, s.h, s.w));
  });
}

void BM_SamGpuFrameEager(benchmark::State& state) {
  if (!ready(state)) return;
  um::bench::time_on_gpu(state, [&] { benchmark::DoNotOptimize(frame_path(model(state))); });
}

void BM_SamGpuFrameGraph(benchmark::State& state) {
  if (!ready(state)) return;
  um::bench::time_graph_replay(state, [&] { return frame_path(model(state)); });
}

#else
UM_BENCH_SKIP_WITHOUT_CUDA(BM_SamGpuPreprocess)
UM_BENCH_SKIP_WITHOUT_CUDA(BM_SamGpuEncoder)
UM_BENCH_SKIP_WITHOUT_CUDA(BM_SamGpuBoxDecoder)
UM_BENCH_SKIP_WITHOUT_CUDA(BM_SamGpuFrameEager)
UM_BENCH_SKIP_WITHOUT_CUDA(BM_SamGpuFrameGraph)
#endif

#define UM_SAM_GPU_BENCH(fn) \
  BENCHMARK(fn)->Arg(0)->Arg(1)->ArgName("f16")->UseManualTime()->Unit(benchmark::kMillisecond)
UM_SAM_GPU_BENCH(BM_SamGpuPreprocess);
UM_SAM_GPU_BENCH(BM_SamGpuEncoder);
UM_SAM_GPU_BENCH(BM_SamGpuBoxDecoder);
UM_SAM_GPU_BENCH(BM_SamGpuFrameEager);
UM_SAM_GPU_BENCH(BM_SamGpuFrameGraph);

}  // namespace

BENCHMARK_MAIN();
