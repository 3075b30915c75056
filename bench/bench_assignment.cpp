// Benchmarks the exact batched assignment (src/pipeline/assignment*.h) on the shapes:
// batch 4 x 300 x T (T = 1, 10, 50: 300 D-FINE queries against T targets) and batch
// 256 x 64 x 64. Costs are uniform [0, 1) from splitmix64, the SAME numbers that
// bench/assignment_vs_scipy.py feeds SciPy (it runs this binary and prints both side by side).
//   CPU/1thread   solve_assignment_batch(..., 1): the like-for-like comparison with SciPy
//   CPU/auto      solve_assignment_batch(..., 0): threads when the batch is big enough
//   CUDA/kernel   costs already on the device; variant 0 = the automatic choice, 1..4 forced
//                 (warp team + cached costs, warp team, block team + cached costs, block team)
//                 for tuning the choice. Three figures, from most to least inclusive:
//                   real_time  host wall time of one iteration: assignment_solve_cuda_ex (its
//                              host work: cudaGetDevice, the attribute cache, the launch call),
//                              the kernel, and one cudaStreamSynchronize
//                   device_us  CUDA events recorded around that single launch on an IDLE stream:
//                              the start event fires as soon as it is queued, so this still
//                              holds the host's launch latency (several us: the GPU waits for
//                              the launch call) besides the kernel
//                   graph_us   the kernel alone: kGraphLaunches launches captured back to back in
//                              one CUDA graph, replayed behind an identical un-timed replay (so
//                              the GPU is busy when the start event is queued and no host latency
//                              falls between the events), elapsed / kGraphLaunches; besides the
//                              kernels it holds only the GPU's own gap between dependent kernels
//                              of a graph (what a launch of it pays inside a captured frame) and
//                              one graph-to-graph switch per kGraphLaunches launches
//                 Benchmark names end with "/real_time" (UseRealTime), after "/repeats:7":
//                 filter with e.g. 'CudaKernel/.*variant:0/', not 'variant:0$'.
//   CUDA/e2e      CudaAssignmentSolver::solve on host data, solver reused across iterations
//                 (as a caller would): pack into pinned memory + chunked H2D, launch, one D2H,
//                 one sync, Results built; no allocation once warm
//   CUDA/staged   the same without the packing copy: the costs already lie in the solver's
//                 pinned buffer (CudaAssignmentSolver::stage, as a caller that writes its cost
//                 matrices there would have them); stage() + solve_staged() per iteration
// Median of repetitions is the figure to quote (--benchmark_report_aggregates_only=true).
// Without a GPU the CUDA benchmarks are skipped with a loud "no CUDA device" message.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/assignment.h"
#ifdef UM_WITH_CUDA
#include <cuda_runtime.h>

#include "pipeline/assignment_cuda.h"
#endif

namespace {

using um::pipeline::CostMatrixView;

// splitmix64 -> 24-bit float in [0, 1); mirrored in bench/assignment_vs_scipy.py.
struct SplitMix64 {
  uint64_t s;
  float next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
  }
};

struct Batch {
  std::vector<std::vector<float>> costs;
  std::vector<CostMatrixView<float>> views;
};

// Problem b of a (batch, rows, cols) case uses seed 1000 * b + rows * 7 + cols.
Batch make_batch(int batch, int rows, int cols) {
  Batch out;
  out.costs.resize(batch);
  for (int b = 0; b < batch; ++b) {
    SplitMix64 g{static_cast<uint64_t>(1000 * b + rows * 7 + cols)};
    out.costs[b].resize(static_cast<size_t>(rows) * cols);
    for (auto& x : out.costs[b]) x = g.next();
    out.views.push_back({out.costs[b].data(), rows, cols});
  }
  return out;
}

void set_label(benchmark::State& state, const Batch& b) {
  double total = 0;
  for (const auto& r : um::pipeline::solve_assignment_batch(b.views, 1)) {
    if (r.ok()) total += r->total_cost;
  }
  state.SetLabel("sum of optimal totals " + std::to_string(total));
}

void BM_AssignmentCpu(benchmark::State& state) {
  const Batch b = make_batch(state.range(0), state.range(1), state.range(2));
  const int threads = static_cast<int>(state.range(3));
  for (auto _ : state) {
    auto r = um::pipeline::solve_assignment_batch(b.views, threads);
    benchmark::DoNotOptimize(r.data());
  }
  set_label(state, b);
}

#ifdef UM_WITH_CUDA
bool cuda_ready() {
  static const bool ok = [] {
    const bool a = um::pipeline::cuda_assignment_available();
    if (!a) {
      std::fprintf(stderr, "\n*** CUDA benchmarks SKIPPED: no CUDA device (cudaGetDeviceCount "
                           "failed or returned 0) ***\n\n");
    } else {
      cudaDeviceProp p{};
      cudaGetDeviceProperties(&p, 0);
      int driver = 0;
      cudaDriverGetVersion(&driver);
      std::fprintf(stderr, "CUDA device: %s (sm_%d%d), driver %d\n", p.name, p.major, p.minor,
                   driver);
    }
    return a;
  }();
  return ok;
}

// graph_us (see the header): launches per graph, and timed replays per benchmark repetition
// (their median is the repetition's figure; Google Benchmark then takes the median over the
// repetitions).
constexpr int kGraphLaunches = 20;
constexpr int kGraphReplays = 15;

// The kernel alone, in microseconds per launch: kGraphLaunches launches of `launch` captured
// into one graph, each timed replay queued behind an identical un-timed one, so the start event
// is reached by the GPU only when that one ends, with the timed replay already queued behind it.
template <typename Launch>
um::Result<double> graph_kernel_us(cudaStream_t stream, cudaEvent_t start, cudaEvent_t stop,
                               Launch&& launch) {
  auto fail = [](const char* what, cudaError_t e) {
    return um::internal_error(std::string("graph timing: ") + what + ": " +
                              cudaGetErrorString(e));
  };
  cudaGraph_t graph = nullptr;
  cudaError_t e = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) return fail("begin capture", e);
  cudaError_t launch_error = cudaSuccess;
  for (int k = 0; k < kGraphLaunches && launch_error == cudaSuccess; ++k) launch_error = launch();
  e = cudaStreamEndCapture(stream, &graph);
  if (launch_error != cudaSuccess) e = launch_error;
  if (e != cudaSuccess) {
    if (graph) cudaGraphDestroy(graph);
    return fail("capture", e);
  }
  cudaGraphExec_t exec = nullptr;
  e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (e != cudaSuccess) return fail("instantiate", e);
  std::vector<double> per_launch_us;
  e = cudaGraphLaunch(exec, stream);  // warm-up (uploads the graph)
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
  for (int rep = 0; rep < kGraphReplays && e == cudaSuccess; ++rep) {
    e = cudaGraphLaunch(exec, stream);  // un-timed: keeps the GPU busy
    if (e == cudaSuccess) e = cudaEventRecord(start, stream);
    if (e == cudaSuccess) e = cudaGraphLaunch(exec, stream);
    if (e == cudaSuccess) e = cudaEventRecord(stop, stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
    float ms = 0;
    if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, start, stop);
    per_launch_us.push_back(1000.0 * ms / kGraphLaunches);
  }
  cudaGraphExecDestroy(exec);
  if (e != cudaSuccess) return fail("replay", e);
  std::nth_element(per_launch_us.begin(), per_launch_us.begin() + per_launch_us.size() / 2,
                   per_launch_us.end());
  return per_launch_us[per_launch_us.size() / 2];
}

// Kernel variants of BM_AssignmentCudaKernel's "variant" argument: {team_mode, cache_mode} of
// assignment_solve_cuda_ex.
constexpr int kVariants[5][2] = {{0, 0}, {1, 1}, {1, 2}, {2, 1}, {2, 2}};

void BM_AssignmentCudaKernel(benchmark::State& state) {
  if (!cuda_ready()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int batch = state.range(0), rows = state.range(1), cols = state.range(2);
  const int* variant = kVariants[state.range(3)];
  const Batch b = make_batch(batch, rows, cols);
  std::vector<float> flat;
  std::vector<int64_t> offsets;
  std::vector<int> rv(batch, rows), cv(batch, cols), out_offsets;
  for (int k = 0; k < batch; ++k) {
    offsets.push_back(static_cast<int64_t>(flat.size()));
    out_offsets.push_back(k * rows);
    flat.insert(flat.end(), b.costs[k].begin(), b.costs[k].end());
  }
  float* d_costs;
  int64_t* d_off;
  int *d_rows, *d_cols, *d_oo, *d_cfr, *d_status;
  double* d_total;
  cudaMalloc(&d_costs, flat.size() * sizeof(float));
  cudaMalloc(&d_off, batch * sizeof(int64_t));
  cudaMalloc(&d_rows, batch * sizeof(int));
  cudaMalloc(&d_cols, batch * sizeof(int));
  cudaMalloc(&d_oo, batch * sizeof(int));
  cudaMalloc(&d_cfr, static_cast<size_t>(batch) * rows * sizeof(int));
  cudaMalloc(&d_status, batch * sizeof(int));
  cudaMalloc(&d_total, batch * sizeof(double));
  cudaMemcpy(d_costs, flat.data(), flat.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_off, offsets.data(), batch * sizeof(int64_t), cudaMemcpyHostToDevice);
  cudaMemcpy(d_rows, rv.data(), batch * sizeof(int), cudaMemcpyHostToDevice);
  cudaMemcpy(d_cols, cv.data(), batch * sizeof(int), cudaMemcpyHostToDevice);
  cudaMemcpy(d_oo, out_offsets.data(), batch * sizeof(int), cudaMemcpyHostToDevice);
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  auto launch = [&] {
    return assignment_solve_cuda_ex(d_costs, d_off, d_rows, d_cols, d_oo, batch, rows, cols,
                                    d_cfr, d_total, d_status, stream, variant[0], variant[1]);
  };
  launch();  // warm-up: first-launch costs (module load, attribute) are not the kernel's
  cudaStreamSynchronize(stream);
  // device_us: CUDA events around each timed launch (kernel + the host's launch latency, as the
  // stream is idle when the start event is queued; see the header), beside the wall time of
  // launch + sync. graph_us, measured after the loop: the kernel alone.
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  double device_ms = 0;
  for (auto _ : state) {
    cudaEventRecord(start, stream);
    const cudaError_t e = launch();
    cudaEventRecord(stop, stream);
    cudaStreamSynchronize(stream);
    if (e != cudaSuccess) {
      state.SkipWithError(cudaGetErrorString(e));
      break;
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    device_ms += ms;
  }
  if (state.iterations() > 0) {
    state.counters["device_us"] = 1000.0 * device_ms / static_cast<double>(state.iterations());
  }
  if (!state.error_occurred()) {
    if (const um::Result<double> g = graph_kernel_us(stream, start, stop, launch); g.ok()) {
      state.counters["graph_us"] = *g;
    } else {
      state.SkipWithError(g.status().to_string().c_str());
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::vector<double> totals(batch);
  cudaMemcpy(totals.data(), d_total, batch * sizeof(double), cudaMemcpyDeviceToHost);
  double sum = 0;
  for (double t : totals) sum += t;
  state.SetLabel("sum of optimal totals " + std::to_string(sum));
  cudaStreamDestroy(stream);
  for (void* p : {static_cast<void*>(d_costs), static_cast<void*>(d_off),
                  static_cast<void*>(d_rows), static_cast<void*>(d_cols), static_cast<void*>(d_oo),
                  static_cast<void*>(d_cfr), static_cast<void*>(d_status),
                  static_cast<void*>(d_total)}) {
    cudaFree(p);
  }
}

void BM_AssignmentCudaEndToEnd(benchmark::State& state) {
  if (!cuda_ready()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const Batch b = make_batch(state.range(0), state.range(1), state.range(2));
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  double total = 0;
  {
    um::pipeline::CudaAssignmentSolver solver;
    for (const auto& r : solver.solve(b.views, stream)) {  // warm-up: buffers allocated here
      if (r.ok()) total += r->total_cost;
    }
    const int allocations = solver.allocation_count();
    for (auto _ : state) {
      auto r = solver.solve(b.views, stream);
      if (!r.empty() && !r[0].ok()) {
        state.SkipWithError(r[0].status().to_string().c_str());
        break;
      }
      benchmark::DoNotOptimize(r.data());
    }
    if (solver.allocation_count() != allocations) {
      state.SkipWithError("the solver allocated inside the timed loop");
    }
  }
  cudaStreamDestroy(stream);
  state.SetLabel("sum of optimal totals " + std::to_string(total));
}

void BM_AssignmentCudaStaged(benchmark::State& state) {
  if (!cuda_ready()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const Batch b = make_batch(state.range(0), state.range(1), state.range(2));
  std::vector<std::pair<int, int>> shapes;
  for (const auto& v : b.views) shapes.emplace_back(v.rows, v.cols);
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  double total = 0;
  {
    um::pipeline::CudaAssignmentSolver solver;
    auto dst = solver.stage(shapes);
    if (!dst.ok()) {
      state.SkipWithError(dst.status().to_string().c_str());
      return;
    }
    // Filled once: stage() of the same shapes hands back the same places, untouched.
    for (size_t k = 0; k < b.costs.size(); ++k) {
      std::copy(b.costs[k].begin(), b.costs[k].end(), (*dst)[k]);
    }
    for (const auto& r : solver.solve_staged(stream)) {
      if (r.ok()) total += r->total_cost;
    }
    const int allocations = solver.allocation_count();
    for (auto _ : state) {
      auto again = solver.stage(shapes);
      auto r = solver.solve_staged(stream);
      if (!again.ok() || (!r.empty() && !r[0].ok())) {
        state.SkipWithError("staged solve failed");
        break;
      }
      benchmark::DoNotOptimize(r.data());
    }
    if (solver.allocation_count() != allocations) {
      state.SkipWithError("the solver allocated inside the timed loop");
    }
  }
  cudaStreamDestroy(stream);
  state.SetLabel("sum of optimal totals " + std::to_string(total));
}
#endif

// (batch, rows, cols): the cases; `last` lists the values of a fourth argument.
void shapes(benchmark::internal::Benchmark* b, std::vector<int64_t> last) {
  for (auto s : {std::vector<int64_t>{4, 300, 1}, {4, 300, 10}, {4, 300, 50}, {256, 64, 64}}) {
    if (last.empty()) {
      b->Args({s[0], s[1], s[2]});
    } else {
      for (int64_t x : last) b->Args({s[0], s[1], s[2], x});
    }
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime()->Repetitions(7)->ReportAggregatesOnly(true);
}

BENCHMARK(BM_AssignmentCpu)
    ->ArgNames({"batch", "rows", "cols", "threads"})
    ->Apply([](benchmark::internal::Benchmark* b) { shapes(b, {1, 0}); });
#ifdef UM_WITH_CUDA
BENCHMARK(BM_AssignmentCudaKernel)
    ->ArgNames({"batch", "rows", "cols", "variant"})
    ->Apply([](benchmark::internal::Benchmark* b) { shapes(b, {0, 1, 2, 3, 4}); });
BENCHMARK(BM_AssignmentCudaEndToEnd)
    ->ArgNames({"batch", "rows", "cols"})
    ->Apply([](benchmark::internal::Benchmark* b) { shapes(b, {}); });
BENCHMARK(BM_AssignmentCudaStaged)
    ->ArgNames({"batch", "rows", "cols"})
    ->Apply([](benchmark::internal::Benchmark* b) { shapes(b, {}); });
#endif

}  // namespace

BENCHMARK_MAIN();
