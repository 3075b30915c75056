// File: bench/bench_dispatch.cpp
// Purpose: what the frame dispatcher's scheduling (gateway/frame_dispatcher.h) buys: frames/s
// and latency with overlap off vs on, 1 vs 4 streams; first with the device EMULATED (runs
// anywhere), then on the real CUDA processors (BM_DispatchGpu, below; skipped without a GPU).
//
// EMULATED (BM_DispatchMaxRate, BM_DispatchPaced), no GPU and no models: each stream's
// processor is the test double FakeProcessor (tests/gateway/fake_frame_processor.h) on a shared
// FakeDevice. Emulated costs per frame (sleeps, so the 2-core CI machine is not the bottleneck):
//   submit (pixel staging + graph launch, host)   0.3 ms
//   device work (the frame's CUDA graph)          4 ms, after the same stream's previous frame
//   complete (host steps after the read-back)     1 ms
//   FakeDevice lanes = 2: one batch-1 frame uses half the GPU, two run at full speed each.
// What matters is the RATIO between rows (how much the schedule hides), not the absolute
// frames/s; the real figures come from BM_DispatchGpu on the lead's H100/H200 runs.
//
// BM_DispatchMaxRate/<streams>/<overlap>: every stream's input holds all its frames from the
//   start (maximum input rate). Counters: fps (results per second, all streams),
//   batch (mean batch size), overlapped (share of frames submitted ahead of the previous batch's
//   completion), device_wait_ms (mean time the host sat in complete()).
// BM_DispatchPaced/<streams>/<overlap>/<together>: each stream sends 25 fps into a 2-slot
//   latest-frame rx slot; together=1: all streams' frames at the same instant (probes triggered
//   together: batches form), together=0: phase-shifted by 40/streams ms (lone frames: the
//   latency cap applies). Counters: fps, latency_ms / latency_max_ms (complete - receive),
//   wait_ms (time in the rx slot), batch.
// BM_DirectLoopPaced: the pre-dispatcher loop (pop, process, hand over) at 25 fps, one stream:
//   the latency baseline for BM_DispatchPaced/streams:1.
// Run: build-*/bench/bench_dispatch --benchmark_repetitions=3 (median of repetitions);
// UM_DISPATCH_TIMELINE_DIR=/tmp/tl also writes each run's per-frame timeline as CSV.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/fake_frame_processor.h"
#include "gateway/frame_dispatcher.h"
#include "pipeline/phantom.h"
#include "pipeline/phantom_stream.h"
#include "test_support.h"

namespace um::gateway {
namespace {

using namespace std::chrono_literals;

constexpr test::FakeTiming kTiming{.max_in_flight = 2,
                                   .device_time = 4000us,
                                   .host_submit = 300us,
                                   .host_complete = 1000us};
constexpr int kLanes = 2;

// Counts results; the benchmark waits for all of them.
class Done {
 public:
  void add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++n_;
    cv_.notify_all();
  }
  bool wait_for(size_t n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return n_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t n_ = 0;
};

// True once every frame pushed into `inputs` has come out: a result, or a drop by the input
// (superseded / evicted). Paced runs may drop frames when the dispatcher falls behind.
bool settled(const FrameDispatcher& d,
             const std::vector<std::unique_ptr<BoundedQueue<pipeline::Frame>>>& inputs) {
  uint64_t pushed = 0, dropped = 0;
  for (const auto& in : inputs) {
    const QueueStats q = in->stats();
    pushed += q.pushed;  // accepted; each is later taken, evicted or superseded
    dropped += q.drops(DropReason::kEvictedOldest) + q.drops(DropReason::kSuperseded);
  }
  const DispatchStats s = d.stats();
  return s.results + s.frames_rejected + dropped >= pushed;
}

// Waits (polling every ms) until settled() or `timeout`.
bool wait_settled(const FrameDispatcher& d,
                  const std::vector<std::unique_ptr<BoundedQueue<pipeline::Frame>>>& inputs,
                  std::chrono::seconds timeout) {
  const int64_t end = monotonic_ns() + std::chrono::nanoseconds(timeout).count();
  while (!settled(d, inputs)) {
    if (monotonic_ns() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

struct Rig {
  Rig(int streams, QueuePolicy policy, size_t capacity) : device(kLanes) {
    for (int i = 0; i < streams; ++i) {
      const std::string name = "probe" + std::to_string(i);
      inputs.push_back(std::make_unique<BoundedQueue<pipeline::Frame>>(name, capacity, policy));
      processors.push_back(
          std::make_unique<test::FakeProcessor>(name, nullptr, &device, kTiming));
    }
  }
  std::unique_ptr<FrameDispatcher> dispatcher(bool overlap) {
    std::vector<DispatchStream> streams;
    for (size_t i = 0; i < inputs.size(); ++i) {
      DispatchStream s;
      s.name = inputs[i]->name();
      s.input = inputs[i].get();
      s.processor = processors[i].get();
      s.return_pixels = false;
      s.on_result = [this](pipeline::Frame&&, Result<pipeline::FrameResult>&&) { done.add(); };
      streams.push_back(std::move(s));
    }
    DispatchOptions opt;
    opt.overlap = overlap;
    opt.timeline_capacity = 4096;
    return std::make_unique<FrameDispatcher>(std::move(streams), opt);
  }

  test::FakeDevice device;
  std::vector<std::unique_ptr<BoundedQueue<pipeline::Frame>>> inputs;
  std::vector<std::unique_ptr<test::FakeProcessor>> processors;
  Done done;
};

// UM_DISPATCH_TIMELINE_DIR=<dir>: each run also writes its timeline as <dir>/<run name>.csv
// (frame_timeline.h columns), for plotting the overlap.
void dump_timeline(const std::string& run, const std::vector<TimelineSpan>& spans) {
  const char* dir = std::getenv("UM_DISPATCH_TIMELINE_DIR");
  if (dir == nullptr || *dir == '\0') return;
  std::ofstream(std::string(dir) + "/" + run + ".csv") << timeline_csv(spans);
}

void report(benchmark::State& state, const std::string& run, const FrameDispatcher& d,
            size_t frames, int64_t elapsed) {
  const std::vector<TimelineSpan> spans = d.timeline();
  dump_timeline(run, spans);
  const TimelineSummary sum = summarize_timeline(spans);
  state.counters["fps"] = static_cast<double>(frames) / (static_cast<double>(elapsed) * 1e-9);
  state.counters["batch"] = sum.mean_batch_size;
  state.counters["overlapped"] =
      sum.frames ? static_cast<double>(sum.overlapped) / static_cast<double>(sum.frames) : 0.0;
  state.counters["device_wait_ms"] = sum.mean_device_wait_ms;
  state.counters["latency_ms"] = sum.mean_latency_ms;
  state.counters["latency_max_ms"] = sum.max_latency_ms;
  state.counters["wait_ms"] = sum.mean_wait_ms;
}

void BM_DispatchMaxRate(benchmark::State& state) {
  const int streams = static_cast<int>(state.range(0));
  const bool overlap = state.range(1) != 0;
  constexpr int kFramesPerStream = 60;
  for (auto _ : state) {
    Rig rig(streams, QueuePolicy::kDropOldest, kFramesPerStream);
    for (auto& in : rig.inputs) {
      for (int id = 1; id <= kFramesPerStream; ++id) in->push(test::make_frame(id));
    }
    auto d = rig.dispatcher(overlap);
    const size_t total = static_cast<size_t>(streams) * kFramesPerStream;
    const int64_t t0 = monotonic_ns();
    d->start();
    if (!rig.done.wait_for(total, 120s)) state.SkipWithError("results missing");
    const int64_t elapsed = monotonic_ns() - t0;
    d->stop();
    report(state,
           "maxrate_streams" + std::to_string(streams) + "_overlap" + std::to_string(overlap), *d,
           total, elapsed);
  }
}

void BM_DispatchPaced(benchmark::State& state) {
  const int streams = static_cast<int>(state.range(0));
  const bool overlap = state.range(1) != 0;
  const bool together = state.range(2) != 0;
  constexpr int kFramesPerStream = 25;  // one second at 25 fps
  constexpr int64_t kPeriodNs = 40'000'000;
  for (auto _ : state) {
    Rig rig(streams, QueuePolicy::kTakeLatest, 2);
    auto d = rig.dispatcher(overlap);
    d->start();
    const int64_t t0 = monotonic_ns();
    std::thread producer([&] {
      // Frame k of stream s is due at t0 + k * period (+ s * period / streams when spread).
      for (int k = 0; k < kFramesPerStream; ++k) {
        for (int s = 0; s < streams; ++s) {
          const int64_t due = t0 + k * kPeriodNs + (together ? 0 : s * kPeriodNs / streams);
          const int64_t wait = due - monotonic_ns();
          if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
          rig.inputs[static_cast<size_t>(s)]->push(test::make_frame(k + 1));
          d->notify();
        }
      }
    });
    producer.join();
    // At 25 fps nothing should be superseded; count what actually came out either way.
    if (!wait_settled(*d, rig.inputs, 30s)) state.SkipWithError("results missing");
    const int64_t elapsed = monotonic_ns() - t0;
    d->stop();
    report(state,
           "paced_streams" + std::to_string(streams) + "_overlap" + std::to_string(overlap) +
               "_together" + std::to_string(together),
           *d, d->stats().results, elapsed);
  }
}

// Baseline for "latency does not grow": the pre-dispatcher gateway loop (one thread: pop the rx
// slot, process, hand over) on the same fake processor, one stream at 25 fps. Compare its
// latency_ms with BM_DispatchPaced/streams:1.
void BM_DirectLoopPaced(benchmark::State& state) {
  constexpr int kFrames = 25;
  constexpr int64_t kPeriodNs = 40'000'000;
  for (auto _ : state) {
    Rig rig(1, QueuePolicy::kTakeLatest, 2);
    BoundedQueue<pipeline::Frame>& slot = *rig.inputs[0];
    pipeline::FrameProcessor& proc = *rig.processors[0];
    std::vector<double> latency;
    std::thread worker([&] {
      for (;;) {
        std::optional<pipeline::Frame> f = slot.pop(std::chrono::milliseconds(100));
        if (!f) {
          if (slot.closed()) return;
          continue;
        }
        const int64_t received = f->receive_time_ns;
        if (!proc.submit(std::move(*f)).ok() || !proc.complete().ok()) continue;
        latency.push_back(static_cast<double>(monotonic_ns() - received) * 1e-6);
      }
    });
    const int64_t t0 = monotonic_ns();
    for (int k = 0; k < kFrames; ++k) {
      const int64_t wait = t0 + k * kPeriodNs - monotonic_ns();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
      slot.push(test::make_frame(k + 1));
    }
    slot.close();  // the worker finishes what is queued, then returns
    worker.join();
    const int64_t elapsed = monotonic_ns() - t0;
    double sum = 0, max = 0;
    for (double l : latency) {
      sum += l;
      max = std::max(max, l);
    }
    state.counters["fps"] =
        static_cast<double>(latency.size()) / (static_cast<double>(elapsed) * 1e-9);
    state.counters["latency_ms"] =
        latency.empty() ? 0.0 : sum / static_cast<double>(latency.size());
    state.counters["latency_max_ms"] = max;
  }
}

// --- the same schedule on the real CUDA processors (the lead's GPU runs) ----------------------
// BM_DispatchGpu/<streams>/<overlap>/<paced>: create_frame_processors(cuda, fp16, phantom
// models, n streams sharing the weights), phantom frames 558x422 (each stream its own sequence,
// 32 frames cycled); paced=0: every input holds all its frames (maximum input rate), paced=1:
// 25 fps per stream, all streams together. Each processor is warmed up through the dispatcher
// first (its graphs captured for both staging slots). Same counters as above; the timeline CSV
// (UM_DISPATCH_TIMELINE_DIR) shows the real submit / device-done / complete times.
// Without the CUDA backend or a GPU: skipped with the factory's error.
struct GpuRig {
  std::vector<std::unique_ptr<pipeline::FrameProcessor>> processors;
  std::vector<std::vector<pipeline::Frame>> frames;  // per stream
  std::vector<uint64_t> next_id;                     // per stream: ids keep increasing

  Status init(int streams) {
    pipeline::ProcessorOptions opt;
    opt.backend = pipeline::Backend::kCuda;
    opt.precision = pipeline::Precision::kFp16;
    opt.dfine_checkpoint = (um::test::source_dir() / "models/phantom/dfine_n_phantom.pth").string();
    opt.sam_checkpoint = (um::test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
    UM_ASSIGN_OR_RETURN(processors, pipeline::create_frame_processors(opt, streams));
    for (int s = 0; s < streams; ++s) {
      pipeline::PhantomStream seq(static_cast<uint64_t>(s + 1), {.size = {558, 422}});
      frames.emplace_back();
      for (int i = 0; i < 32; ++i) frames.back().push_back(pipeline::to_frame(seq.next(), 0));
    }
    next_id.assign(static_cast<size_t>(streams), 1);
    return Status::Ok();
  }
  pipeline::Frame frame(size_t s) {
    pipeline::Frame f = frames[s][(next_id[s] - 1) % frames[s].size()];
    f.id = next_id[s]++;
    f.receive_time_ns = monotonic_ns();
    return f;
  }
  // One dispatcher over fresh inputs; `frames_per_stream` frames each, pushed all at once
  // (paced = false) or at 25 fps. Returns the dispatcher (stopped) and the elapsed ns.
  std::pair<std::unique_ptr<FrameDispatcher>, int64_t> run(bool overlap, int frames_per_stream,
                                                           bool paced) {
    const size_t n = processors.size();
    std::vector<std::unique_ptr<BoundedQueue<pipeline::Frame>>> inputs;
    Done done;
    std::vector<DispatchStream> ds;
    for (size_t s = 0; s < n; ++s) {
      inputs.push_back(std::make_unique<BoundedQueue<pipeline::Frame>>(
          "probe" + std::to_string(s), paced ? 2 : static_cast<size_t>(frames_per_stream),
          paced ? QueuePolicy::kTakeLatest : QueuePolicy::kDropOldest));
      DispatchStream d;
      d.name = inputs.back()->name();
      d.input = inputs.back().get();
      d.processor = processors[s].get();
      d.return_pixels = false;
      d.on_result = [&done](pipeline::Frame&&, Result<pipeline::FrameResult>&& r) {
        if (!r.ok()) std::fprintf(stderr, "frame failed: %s\n", r.status().to_string().c_str());
        done.add();
      };
      ds.push_back(std::move(d));
    }
    DispatchOptions opt;
    opt.overlap = overlap;
    opt.timeline_capacity = 4096;
    auto d = std::make_unique<FrameDispatcher>(std::move(ds), opt);
    const size_t total = n * static_cast<size_t>(frames_per_stream);
    if (!paced) {
      for (size_t s = 0; s < n; ++s)
        for (int i = 0; i < frames_per_stream; ++i) inputs[s]->push(frame(s));
    }
    const int64_t t0 = monotonic_ns();
    d->start();
    if (paced) {
      constexpr int64_t kPeriodNs = 40'000'000;
      for (int k = 0; k < frames_per_stream; ++k) {
        const int64_t wait = t0 + k * kPeriodNs - monotonic_ns();
        if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
        for (size_t s = 0; s < n; ++s) inputs[s]->push(frame(s));
        d->notify();
      }
    }
    if (paced) {
      wait_settled(*d, inputs, 60s);
    } else {
      done.wait_for(total, 60s);
    }
    const int64_t elapsed = monotonic_ns() - t0;
    d->stop();
    return {std::move(d), elapsed};
  }
};

void BM_DispatchGpu(benchmark::State& state) {
  const int streams = static_cast<int>(state.range(0));
  const bool overlap = state.range(1) != 0;
  const bool paced = state.range(2) != 0;
  GpuRig rig;
  const Status made = rig.init(streams);
  if (!made.ok()) {
    state.SkipWithError(made.to_string().c_str());
    for (auto _ : state) {
    }
    return;
  }
  rig.run(/*overlap=*/true, 8, /*paced=*/false);  // warm-up: graphs of both staging slots
  for (auto _ : state) {
    auto [d, elapsed] = rig.run(overlap, paced ? 25 : 100, paced);
    report(state,
           "gpu_streams" + std::to_string(streams) + "_overlap" + std::to_string(overlap) +
               "_paced" + std::to_string(paced),
           *d, d->stats().results, elapsed);
    if (d->stats().errors > 0) state.SkipWithError("frames failed (see stderr)");
  }
}

BENCHMARK(BM_DispatchMaxRate)
    ->ArgNames({"streams", "overlap"})
    ->ArgsProduct({{1, 4}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);
BENCHMARK(BM_DispatchPaced)
    ->ArgNames({"streams", "overlap", "together"})
    ->Args({1, 0, 1})
    ->Args({1, 1, 1})
    ->ArgsProduct({{4}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

BENCHMARK(BM_DirectLoopPaced)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_DispatchGpu)
    ->ArgNames({"streams", "overlap", "paced"})
    ->ArgsProduct({{1, 4}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace
}  // namespace um::gateway

BENCHMARK_MAIN();
