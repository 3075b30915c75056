// File: bench/bench_igtl.cpp
// Purpose: OpenIGTLink costs per ultrasound frame (558x422 uint8, the reference frame size):
//   BM_IgtlEncodeImage / BM_IgtlDecodeImage / BM_IgtlEncodeDecodeImage: codec throughput with
//     CRC-64 (MB/s of wire bytes), header version 2 with metadata as the gateway sends it.
//   BM_IgtlCrc64: the checksum alone.
//   BM_IgtlLoopbackServerToClient: SlicerServer::broadcast -> PlusClient callback (the path a
//     frame takes out of one gateway into the next hop), one frame in flight at a time.
//   BM_IgtlLoopbackClientToServer: a client socket's send -> SlicerServer message callback.
// Latency benchmarks report p50_us / p99_us over all frames of the run (manual time = mean).
// Run: bench_igtl --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/clock.h"
#include "igtl/codec.h"
#include "igtl/crc64.h"
#include "igtl/plus_client.h"
#include "igtl/slicer_server.h"

namespace {

using namespace um::igtl;  // NOLINT: benchmark file

Message frame(int id) {
  ImageGeometry g;
  g.size = {558, 422, 1};
  g.spacing = {0.1, 0.1, 1.0};
  std::vector<uint8_t> px(size_t{558} * 422);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7 + id);
  Message m = make_image_message("Image_Reference", g, ScalarType::kUint8, 1, std::move(px),
                                 um::wall_clock_ns());
  m.metadata = {{"FrameId", std::to_string(id)}, {"State", "VISIBLE"}, {"Score", "0.93"}};
  return m;
}

void BM_IgtlEncodeImage(benchmark::State& state) {
  const Message m = frame(1);
  std::vector<uint8_t> wire;
  for (auto _ : state) {
    wire.clear();
    if (!encode_into(m, wire).ok()) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(wire.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}
BENCHMARK(BM_IgtlEncodeImage);

void BM_IgtlDecodeImage(benchmark::State& state) {
  const auto wire = *encode(frame(1));
  for (auto _ : state) {
    auto m = decode(wire);  // CRC checked (the default)
    if (!m.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}
BENCHMARK(BM_IgtlDecodeImage);

void BM_IgtlEncodeDecodeImage(benchmark::State& state) {
  const Message m = frame(1);
  std::vector<uint8_t> wire;
  for (auto _ : state) {
    wire.clear();
    if (!encode_into(m, wire).ok()) state.SkipWithError("encode failed");
    auto d = decode(wire);
    if (!d.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}
BENCHMARK(BM_IgtlEncodeDecodeImage);

void BM_IgtlCrc64(benchmark::State& state) {
  std::vector<uint8_t> data(size_t{558} * 422);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13);
  for (auto _ : state) benchmark::DoNotOptimize(crc64(data.data(), data.size()));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(data.size()));
}
BENCHMARK(BM_IgtlCrc64);

void report_percentiles(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  state.counters["frames"] = static_cast<double>(us.size());
}

void BM_IgtlLoopbackServerToClient(benchmark::State& state) {
  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  if (!server.start().ok()) return state.SkipWithError("server start failed");
  std::mutex mu;
  std::condition_variable cv;
  int64_t received_ns = 0;
  uint64_t received = 0;
  PlusClientOptions co;
  co.port = server.port();
  PlusClient client(co);
  client.start([&](Message&&) {
    std::lock_guard<std::mutex> l(mu);
    received_ns = um::monotonic_ns();
    ++received;
    cv.notify_one();
  });
  // Wait for the connection (and its version-2 hello) before timing.
  for (int i = 0; i < 500 && (server.client_stats().empty() ||
                              server.client_stats()[0].received == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const Message m = frame(3);
  std::vector<double> us;
  for (auto _ : state) {
    uint64_t before;
    {
      std::lock_guard<std::mutex> l(mu);
      before = received;
    }
    const int64_t t0 = um::monotonic_ns();
    if (!server.broadcast(m).ok()) return state.SkipWithError("broadcast failed");
    std::unique_lock<std::mutex> l(mu);
    if (!cv.wait_for(l, std::chrono::seconds(5), [&] { return received > before; })) {
      return state.SkipWithError("frame not delivered within 5 s");
    }
    const double dt = static_cast<double>(received_ns - t0) * 1e-3;
    us.push_back(dt);
    state.SetIterationTime(dt * 1e-6);
  }
  client.stop();
  server.stop();
  report_percentiles(state, us);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(encode(m)->size()));
}
BENCHMARK(BM_IgtlLoopbackServerToClient)->UseManualTime()->Iterations(300);

void BM_IgtlLoopbackClientToServer(benchmark::State& state) {
  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  std::mutex mu;
  std::condition_variable cv;
  int64_t received_ns = 0;
  uint64_t received = 0;
  server.set_message_callback([&](uint64_t, const Message&) {
    std::lock_guard<std::mutex> l(mu);
    received_ns = um::monotonic_ns();
    ++received;
    cv.notify_one();
  });
  if (!server.start().ok()) return state.SkipWithError("server start failed");
  auto sock = Socket::connect("127.0.0.1", server.port(), 2000);
  if (!sock.ok()) return state.SkipWithError("connect failed");
  const Message m = frame(4);
  std::vector<uint8_t> wire;
  std::vector<double> us;
  for (auto _ : state) {
    uint64_t before;
    {
      std::lock_guard<std::mutex> l(mu);
      before = received;
    }
    const int64_t t0 = um::monotonic_ns();
    wire.clear();
    if (!encode_into(m, wire).ok() || !sock->send_all(wire.data(), wire.size(), 5000).ok()) {
      return state.SkipWithError("send failed");
    }
    std::unique_lock<std::mutex> l(mu);
    if (!cv.wait_for(l, std::chrono::seconds(5), [&] { return received > before; })) {
      return state.SkipWithError("frame not delivered within 5 s");
    }
    const double dt = static_cast<double>(received_ns - t0) * 1e-3;
    us.push_back(dt);
    state.SetIterationTime(dt * 1e-6);
  }
  server.stop();
  report_percentiles(state, us);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}
BENCHMARK(BM_IgtlLoopbackClientToServer)->UseManualTime()->Iterations(300);

}  // namespace

BENCHMARK_MAIN();
