// File: bench/cuda_bench_util.h
// Purpose: the pieces every CUDA benchmark (bench/bench_cuda_*.cpp) shares, header-only and
// included only by those files: the skip that reports SkipWithError and drains the state, the
// GPU-availability check, deterministic device tensor makers, and CUDA-event timing on a private
// stream (eager launches, or one CUDA graph captured once and replayed). Each helper reports
// manual time per call; the median of the repetitions stays Google Benchmark's job.
// Usage:
//   if (!um::bench::require_gpu(state)) return;       // "no usable CUDA device" skip
//   const Tensor x = um::bench::device_pattern({1, 64, 160, 160}, DType::kF16);
//   um::bench::time_on_gpu(state, [&] { benchmark::DoNotOptimize(op(x)); }, /*inner=*/20);
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <utility>

#include "core/tensor.h"

#ifdef UM_WITH_CUDA
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_runtime.h"
#include "core/cuda/device_pool.h"
#include "core/cuda/stream_context.h"
#endif

namespace um::bench {

// Reports `message` as the benchmark's error and runs the (empty) loop Google Benchmark expects.
inline void skip(benchmark::State& state, const char* message) {
  state.SkipWithError(message);
  for (auto _ : state) {
  }
}

// Defines the benchmark function `fn(benchmark::State&)` of a build without the CUDA backend:
// it reports the skip.
#define UM_BENCH_SKIP_WITHOUT_CUDA(fn) \
  void fn(benchmark::State& state) { ::um::bench::skip(state, "built without the CUDA backend"); }

#ifdef UM_WITH_CUDA
// False (after the skip) without a usable GPU; else installs the CUDA tensor backend.
inline bool require_gpu(benchmark::State& state) {
  if (!um::cuda::available()) {
    skip(state, "no usable CUDA device");
    return false;
  }
  um::cuda::install_tensor_backend();
  return true;
}

// A device tensor of `dtype` filled with a cheap deterministic pattern (values in [-1, 1]);
// `salt` shifts the pattern so that several operands differ.
inline Tensor device_pattern(const Shape& shape, DType dtype, int64_t salt = 0) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = static_cast<float>((i * 37 + salt * 11) % 201 - 100) / 100.f;
  }
  return t.to(um::Device::cuda()).to(dtype);
}

// A device tensor of `dtype` with scores spread like logits (many near-equal values, some ties).
inline Tensor device_scores(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = static_cast<float>((i * 7919) % 10007) / 1000.f - 8.f;
  }
  return t.to(um::Device::cuda()).to(dtype);
}

// A private stream made current for this thread while the object lives. measure() times
// `inner` back-to-back calls of `fn` per benchmark iteration with CUDA events and reports the
// manual time per call; the caller runs the warm-up call (pool blocks, per-shape caches) first.
class GpuTimer {
 public:
  GpuTimer() : scope_(stream_.get()) {}

  cudaStream_t stream() const { return stream_.get(); }

  template <typename F>
  void measure(benchmark::State& state, F&& fn, int inner = 1) {
    um::cuda::synchronize(stream_.get());
    um::cuda::Event start, stop;
    for (auto _ : state) {
      start.record(stream_.get());
      for (int i = 0; i < inner; ++i) fn();
      stop.record(stream_.get());
      um::cuda::synchronize(stop.get());
      state.SetIterationTime(um::cuda::Event::elapsed_ms(start, stop) / 1e3 / inner);
    }
  }

 private:
  um::cuda::Stream stream_;
  um::cuda::StreamScope scope_;
};

// Warm-up call, then `inner` calls of `fn` (which queues GPU work on the current stream) per
// iteration on a private stream. Idle gaps while the host launches count: the eager latency.
template <typename F>
void time_on_gpu(benchmark::State& state, F&& fn, int inner = 1) {
  GpuTimer timer;
  fn();  // warm-up: caches, pool
  timer.measure(state, fn, inner);
}

// Like time_on_gpu with a caller-made timer (whose stream the caller may already have synchronised
// with): the warm-up call of `run` (which returns its output) may throw where an op refuses the
// operands (a forced attention path); that becomes the benchmark's skip instead of an abort.
template <typename F>
void time_on_gpu_or_skip(benchmark::State& state, GpuTimer& timer, F&& run, int inner = 1) {
  try {
    const auto warm = run();
  } catch (const std::exception& e) {
    skip(state, e.what());
    return;
  }
  timer.measure(state, [&] { benchmark::DoNotOptimize(run()); }, inner);
}

// `frame()` (which queues GPU work on the current stream and returns its output) run once
// eagerly to fill the per-shape caches, then captured once as a CUDA graph on a private stream
// with a private pool (the graph keeps writing these addresses), and the graph replayed per
// iteration. A failed capture is reported as the benchmark's error.
template <typename F>
void time_graph_replay(benchmark::State& state, F&& frame) {
  um::cuda::Stream stream;
  um::cuda::StreamScope scope(stream.get());
  um::cuda::DevicePool pool;
  um::cuda::PoolScope pool_scope(&pool);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  { const auto warm = frame(); }  // caches filled outside the capture
  um::cuda::synchronize(stream.get());
  decltype(frame()) captured;  // the graph's output buffers stay allocated while it replays
  try {
    UM_CUDA_CHECK(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal));
    captured = frame();
    UM_CUDA_CHECK(cudaStreamEndCapture(stream.get(), &graph));
    UM_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  } catch (const std::exception& e) {
    if (!graph) cudaStreamEndCapture(stream.get(), &graph);
    if (graph) cudaGraphDestroy(graph);
    skip(state, e.what());
    return;
  }
  um::cuda::Event start, stop;
  for (auto _ : state) {
    start.record(stream.get());
    UM_CUDA_CHECK(cudaGraphLaunch(exec, stream.get()));
    stop.record(stream.get());
    um::cuda::synchronize(stop.get());
    state.SetIterationTime(um::cuda::Event::elapsed_ms(start, stop) / 1e3);
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}
#endif  // UM_WITH_CUDA

}  // namespace um::bench
