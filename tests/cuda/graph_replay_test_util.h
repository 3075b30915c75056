// File: tests/cuda/graph_replay_test_util.h
// Purpose: the frame-graph contract of one device op, as the GPU tests check it: on a fresh
// stream and pool, a warm call (plans, handles, pool blocks), then a second warm call and one
// call captured into a CUDA graph without any host synchronisation; the captured call's outputs
// are cleared (nothing ran during capture) and the graph is replayed, so only the replay can have
// produced what the test then compares with the CPU reference.
// Usage:
//   GraphReplay replay;  // after the operands are uploaded
//   const Tensor y = replay.run([&] { return nn::linear(xg, wg, bg); }, "linear");
//   ASSERT_TRUE(replay.ok());
//   EXPECT_GPU_NEAR(y, ref, 2e-2f);
// run() also takes an op returning a std::pair of tensors (both are cleared before the replay).
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <exception>
#include <string>
#include <utility>

#include "core/cuda/cuda_runtime.h"
#include "core/cuda/device_pool.h"
#include "core/cuda/stream_context.h"
#include "core/tensor.h"

namespace um::test {

class GraphReplay {
 public:
  GraphReplay() = default;
  GraphReplay(const GraphReplay&) = delete;
  GraphReplay& operator=(const GraphReplay&) = delete;
  ~GraphReplay() {
    if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
    if (graph_ != nullptr) cudaGraphDestroy(graph_);
  }

  // Runs the contract on `op` (named `what` in failure messages) and returns the replayed
  // outputs; a broken step is recorded as a test failure and leaves ok() false.
  template <typename Op>
  auto run(Op op, const std::string& what) -> decltype(op()) {
    using Out = decltype(op());
    { const Out warm = op(); }
    cuda::synchronize(stream_.get());
    const uint64_t syncs = cuda::host_sync_count();
    { const Out again = op(); }
    EXPECT_EQ(cuda::host_sync_count(), syncs) << "a warm " << what << " synchronised the host";
    cuda::synchronize(stream_.get());
    Out out{};
    if (!check(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal),
               what + ": begin capture")) {
      return out;
    }
    const uint64_t before_capture = cuda::host_sync_count();
    std::string error;
    try {
      out = op();
    } catch (const std::exception& e) {
      error = e.what();
    }
    const cudaError_t end = cudaStreamEndCapture(stream_.get(), &graph_);
    if (!error.empty()) {
      ADD_FAILURE() << what << " failed under capture: " << error;
      return Out{};
    }
    EXPECT_EQ(cuda::host_sync_count(), before_capture) << what << " synchronised under capture";
    if (!check(end, what + ": end capture") ||
        !check(cudaGraphInstantiate(&exec_, graph_, 0), what + ": instantiate")) {
      return Out{};
    }
    clear(out);
    if (!check(cudaGraphLaunch(exec_, stream_.get()), what + ": replay")) return Out{};
    cuda::synchronize(stream_.get());
    ok_ = true;
    return out;
  }

  // Whether the last run() captured and replayed its op.
  bool ok() const { return ok_; }

 private:
  // The operands were uploaded on this thread's default stream: let them land before the
  // scopes below switch the thread to the test's own stream.
  struct UploadsDone {
    UploadsDone() { cuda::synchronize(cuda::current_stream()); }
  };

  bool check(cudaError_t e, const std::string& step) {
    if (e == cudaSuccess) return true;
    ADD_FAILURE() << step << ": " << cudaGetErrorString(e);
    return false;
  }
  void clear(const Tensor& t) {
    EXPECT_EQ(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), stream_.get()), cudaSuccess);
  }
  void clear(const std::pair<Tensor, Tensor>& p) {
    clear(p.first);
    clear(p.second);
  }

  UploadsDone uploads_done_;
  cuda::Stream stream_;
  cuda::DevicePool pool_;
  cuda::PoolScope pool_scope_{&pool_};
  cuda::StreamScope stream_scope_{stream_.get()};
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  bool ok_ = false;
};

}  // namespace um::test
