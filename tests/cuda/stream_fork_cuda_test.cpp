// GPU tests of the side-stream fork/join (core/cuda/stream_fork.h): the side stream's work runs
// after the main stream's work queued before the fork, the main stream's later work after the
// side's, eagerly and replayed from a captured graph; and an error between fork and join still
// leaves a capture that can end (the destructor joins) and a side stream that works afterwards.
// Each check makes the stream that must wait the fast one: main first fills a large buffer many
// times over before it writes the value the side copies (and the side does the same before the
// copy main reads after the join), so a missing edge reads a stale zero instead of the value.
#include <gtest/gtest.h>

#include <stdexcept>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_runtime.h"
#include "core/cuda/stream_context.h"
#include "core/cuda/stream_fork.h"
#include "cuda_test_support.h"

namespace um {
namespace {

using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;

// Buffers of one check; allocated before any capture (a capture may not allocate).
struct ForkBuffers {
  Tensor value = to_gpu(random_cpu({1 << 20}, 7, 1.f, 2.f));  // never zero
  Tensor busy_src = Tensor::zeros({1 << 24}, DType::kF32, Device::cuda());
  Tensor main_busy = Tensor::zeros({1 << 24}, DType::kF32, Device::cuda());
  Tensor side_busy = Tensor::zeros({1 << 24}, DType::kF32, Device::cuda());
  Tensor a = Tensor::zeros({1 << 20}, DType::kF32, Device::cuda());
  Tensor b = Tensor::zeros({1 << 20}, DType::kF32, Device::cuda());
  Tensor c = Tensor::zeros({1 << 20}, DType::kF32, Device::cuda());
};

void keep_busy(Tensor& dst, const Tensor& src) {
  for (int i = 0; i < 24; ++i) dst.copy_from(src);  // 24 x 64 MiB each way: milliseconds
}

// main: busy, a = value | fork | side: busy, b = a | join | main: c = b. Queued on the current
// stream (main). c == value only if both edges hold.
void queue_fork_join(ForkBuffers& f, cuda::SideStream& side, cudaStream_t main) {
  keep_busy(f.main_busy, f.busy_src);
  f.a.copy_from(f.value);
  {
    cuda::ForkJoin branch(side, main);
    {
      cuda::StreamScope on_side(side.get());
      keep_busy(f.side_busy, f.busy_src);
      f.b.copy_from(f.a);
    }
    branch.join();
  }
  f.c.copy_from(f.b);
}

// The streams and buffers of one test, the main stream current while it lives (the buffers are
// made on it).
struct ForkSetup {
  cuda::Stream main;
  cuda::SideStream side;
  cuda::StreamScope on_main{main.get()};
  ForkBuffers f;
  Tensor want = to_cpu_f32(f.value);
};

void clear(ForkBuffers& f) {
  for (Tensor* t : {&f.a, &f.b, &f.c}) {
    UM_CUDA_CHECK(cudaMemsetAsync(t->raw_data(), 0, t->nbytes(), cuda::current_stream()));
  }
}

TEST(StreamFork, SideRunsAfterTheForkAndMainAfterTheJoin) {
  UM_REQUIRE_CUDA();
  ForkSetup t;
  for (int round = 0; round < 3; ++round) {
    clear(t.f);
    queue_fork_join(t.f, t.side, t.main.get());
    EXPECT_EQ(max_abs_diff_gpu(t.f.c, t.want), 0.f) << "round " << round;
  }
}

TEST(StreamFork, CapturedForkIsTwoBranchesOfTheGraph) {
  UM_REQUIRE_CUDA();
  ForkSetup t;
  cuda::synchronize(t.main.get());
  UM_CUDA_CHECK(cudaStreamBeginCapture(t.main.get(), cudaStreamCaptureModeThreadLocal));
  queue_fork_join(t.f, t.side, t.main.get());
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(t.main.get(), &graph), cudaSuccess);
  // The fork node (main's last copy before it) has two successors: main's and the side's.
  size_t edges = 0;
#if CUDART_VERSION >= 13000  // CUDA 13 added the per-edge data argument
  ASSERT_EQ(cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &edges), cudaSuccess);
#else
  ASSERT_EQ(cudaGraphGetEdges(graph, nullptr, nullptr, &edges), cudaSuccess);
#endif
  size_t nodes = 0;
  ASSERT_EQ(cudaGraphGetNodes(graph, nullptr, &nodes), cudaSuccess);
  EXPECT_EQ(edges, nodes) << "a chain has nodes - 1 edges; the fork and the join add one each";
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  cudaGraphDestroy(graph);
  for (int round = 0; round < 3; ++round) {
    clear(t.f);
    UM_CUDA_CHECK(cudaGraphLaunch(exec, t.main.get()));
    EXPECT_EQ(max_abs_diff_gpu(t.f.c, t.want), 0.f) << "replay " << round;
  }
  cudaGraphExecDestroy(exec);
}

TEST(StreamFork, ErrorBetweenForkAndJoinStillEndsTheCapture) {
  UM_REQUIRE_CUDA();
  ForkSetup t;
  cuda::synchronize(t.main.get());
  UM_CUDA_CHECK(cudaStreamBeginCapture(t.main.get(), cudaStreamCaptureModeThreadLocal));
  try {
    cuda::ForkJoin branch(t.side, t.main.get());
    cuda::StreamScope on_side(t.side.get());
    t.f.b.copy_from(t.f.a);
    throw std::runtime_error("an op failed on the side stream");
  } catch (const std::runtime_error&) {
  }
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(t.main.get(), &graph), cudaSuccess)
      << "the side stream was left apart from the capture";
  if (graph) cudaGraphDestroy(graph);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusActive;
  ASSERT_EQ(cudaStreamIsCapturing(t.side.get(), &status), cudaSuccess);
  EXPECT_EQ(status, cudaStreamCaptureStatusNone);
  // Both streams work eagerly again.
  clear(t.f);
  queue_fork_join(t.f, t.side, t.main.get());
  EXPECT_EQ(max_abs_diff_gpu(t.f.c, t.want), 0.f);
}

}  // namespace
}  // namespace um
