// Tests for src/gateway/frame_dispatcher.h (scheduling rules 1-4, guarantees) and
// frame_timeline.h, with FakeProcessor (fake_frame_processor.h) standing in for the models.
// Orderings and batch ids are asserted exactly where the schedule is deterministic (frames
// queued before start()); durations only with generous bounds (CI: 2 busy cores). Tests wait
// on conditions with long deadlines, never on fixed sleeps.
#include "gateway/frame_dispatcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gateway/fake_frame_processor.h"

namespace um::gateway {
namespace {

using namespace std::chrono_literals;
using pipeline::Frame;
using pipeline::FrameResult;
using test::CallLog;
using test::FakeDevice;
using test::FakeProcessor;
using test::FakeTiming;
using test::make_frame;

// Collects on_result calls; tests wait for a count.
class Results {
 public:
  struct Item {
    std::string stream;
    Frame frame;
    Status status;
    uint64_t result_id = 0;
  };
  std::function<void(Frame&&, Result<FrameResult>&&)> sink(const std::string& stream) {
    return [this, stream](Frame&& f, Result<FrameResult>&& r) {
      std::lock_guard<std::mutex> lock(mu_);
      Item item{stream, std::move(f), r.status(), r.ok() ? r->frame_id : 0};
      items_.push_back(std::move(item));
      cv_.notify_all();
    };
  }
  bool wait_for(size_t n, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return items_.size() >= n; });
  }
  std::vector<Item> items() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> items_;
};

// One stream: an input queue, a fake processor and its DispatchStream.
struct TestStream {
  TestStream(const std::string& n, CallLog* log, FakeDevice* dev, FakeTiming timing,
             QueuePolicy policy = QueuePolicy::kDropOldest, size_t capacity = 64)
      : name(n), input(n, capacity, policy), processor(n, log, dev, timing) {}
  DispatchStream stream(Results& results) {
    DispatchStream s;
    s.name = name;
    s.input = &input;
    s.processor = &processor;
    s.on_result = results.sink(name);
    return s;
  }
  std::string name;
  BoundedQueue<Frame> input;
  FakeProcessor processor;
};

// Waits (polling every 2 ms) until cond() holds or the deadline passes.
bool test_wait(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 30s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST(FrameDispatcher, OneStreamDoesNotWaitForABatch) {
  CallLog log;
  TestStream a("a", &log, nullptr, {}, QueuePolicy::kTakeLatest, 2);
  Results results;
  DispatchOptions opt;
  opt.max_wait_ms = 600'000;  // a batch wait would outlast the test's deadline by far
  FrameDispatcher d({a.stream(results)}, opt);
  d.start();
  a.input.push(make_frame(1));
  d.notify();
  ASSERT_TRUE(results.wait_for(1, 60s)) << "one stream must not wait for a batch";
  a.input.push(make_frame(2));
  d.notify();
  ASSERT_TRUE(results.wait_for(2, 60s));
  d.stop();
  auto items = results.items();
  EXPECT_EQ(items[0].result_id, 1u);
  EXPECT_EQ(items[1].result_id, 2u);
  EXPECT_EQ(d.max_batch(), 1);
  EXPECT_EQ(d.stats().batch_sizes.at(1), 2u);
}

TEST(FrameDispatcher, TwoStreamsArrivingTogetherShareOneBatch) {
  CallLog log;
  FakeDevice gpu(2);
  TestStream a("a", &log, &gpu, {.max_in_flight = 2, .device_time = 5ms});
  TestStream b("b", &log, &gpu, {.max_in_flight = 2, .device_time = 5ms});
  a.input.push(make_frame(1));
  b.input.push(make_frame(1));
  Results results;
  FrameDispatcher d({a.stream(results), b.stream(results)}, DispatchOptions{});
  d.start();
  ASSERT_TRUE(results.wait_for(2));
  d.stop();
  // Both submitted before either is completed; completed in submission order.
  EXPECT_EQ(log.sequence(), "s:a1 s:b1 c:a1 c:b1");
  auto tl = d.timeline();
  ASSERT_EQ(tl.size(), 2u);
  EXPECT_EQ(tl[0].batch_id, tl[1].batch_id);
  EXPECT_EQ(tl[0].batch_size, 2);
  EXPECT_EQ(tl[1].batch_size, 2);
  DispatchStats s = d.stats();
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(s.batch_sizes.at(2), 1u);
  EXPECT_EQ(s.max_in_flight_seen, 2);
  EXPECT_EQ(s.overlapped, 0u);
}

TEST(FrameDispatcher, ZeroWaitStillTakesFramesAlreadyWaitingTogether) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 1});
  TestStream b("b", &log, nullptr, {.max_in_flight = 1});
  a.input.push(make_frame(1));
  b.input.push(make_frame(1));
  Results results;
  DispatchOptions opt;
  opt.max_wait_ms = 0;  // what a synchronous (CPU) backend should use
  FrameDispatcher d({a.stream(results), b.stream(results)}, opt);
  d.start();
  ASSERT_TRUE(results.wait_for(2));
  d.stop();
  EXPECT_EQ(log.sequence(), "s:a1 s:b1 c:a1 c:b1");
  EXPECT_EQ(d.stats().batch_sizes.at(2), 1u);
}

TEST(FrameDispatcher, LoneFrameIsHeldAtMostTheLatencyCap) {
  CallLog log;
  TestStream a("a", &log, nullptr, {});
  TestStream b("b", &log, nullptr, {});
  Results results;
  DispatchOptions opt;
  opt.max_wait_ms = 50;
  FrameDispatcher d({a.stream(results), b.stream(results)}, opt);
  d.start();
  a.input.push(make_frame(1));
  d.notify();
  ASSERT_TRUE(results.wait_for(1));  // b never sends: the cap closes the batch
  d.stop();
  auto tl = d.timeline();
  ASSERT_EQ(tl.size(), 1u);
  EXPECT_EQ(tl[0].batch_size, 1);
  const double held_ms = static_cast<double>(tl[0].complete_start_ns - tl[0].take_ns) * 1e-6;
  EXPECT_GE(held_ms, 50.0 * 0.99) << "the batch waited for b up to the cap";
  EXPECT_LT(held_ms, 50.0 + 5000.0) << "generous bound: a busy machine, not a lost wakeup";
}

TEST(FrameDispatcher, FrameArrivingWithinTheCapJoinsTheBatchAndClosesIt) {
  CallLog log;
  TestStream a("a", &log, nullptr, {});
  TestStream b("b", &log, nullptr, {});
  Results results;
  DispatchOptions opt;
  opt.max_wait_ms = 600'000;  // only b's arrival can close the batch before the deadline below
  FrameDispatcher d({a.stream(results), b.stream(results)}, opt);
  d.start();
  a.input.push(make_frame(1));
  d.notify();
  // Once a's frame is submitted, b's arrives: the batch is complete at once.
  ASSERT_TRUE(test_wait([&] { return !log.events().empty(); }));
  b.input.push(make_frame(7));
  d.notify();
  ASSERT_TRUE(results.wait_for(2, 60s));
  d.stop();
  EXPECT_EQ(log.sequence(), "s:a1 s:b7 c:a1 c:b7");
  auto tl = d.timeline();
  ASSERT_EQ(tl.size(), 2u);
  EXPECT_EQ(tl[0].batch_id, tl[1].batch_id);
  EXPECT_EQ(tl[1].batch_size, 2);
}

TEST(FrameDispatcher, MaxBatchLimitsTheBatch) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 1});
  TestStream b("b", &log, nullptr, {.max_in_flight = 1});
  TestStream c("c", &log, nullptr, {.max_in_flight = 1});
  for (auto* s : {&a, &b, &c}) s->input.push(make_frame(1));
  Results results;
  DispatchOptions opt;
  opt.max_batch = 2;
  FrameDispatcher d({a.stream(results), b.stream(results), c.stream(results)}, opt);
  d.start();
  ASSERT_TRUE(results.wait_for(3));
  d.stop();
  // c's frame did not fit the first batch; with overlap it is submitted before that batch is
  // completed and forms the second.
  EXPECT_EQ(log.sequence(), "s:a1 s:b1 s:c1 c:a1 c:b1 c:c1");
  DispatchStats s = d.stats();
  EXPECT_EQ(s.batch_sizes.at(2), 1u);
  EXPECT_EQ(s.batch_sizes.at(1), 1u);
  EXPECT_EQ(s.overlapped, 1u);
  auto tl = d.timeline();
  ASSERT_EQ(tl.size(), 3u);
  EXPECT_EQ(tl[2].stream, "c");
  EXPECT_TRUE(tl[2].overlapped);
  EXPECT_EQ(tl[2].batch_id, tl[0].batch_id + 1);
}

TEST(FrameDispatcher, MaxBatchBelowStreamCountServesStreamsRoundRobin) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 1});
  TestStream b("b", &log, nullptr, {.max_in_flight = 1});
  TestStream c("c", &log, nullptr, {.max_in_flight = 1});
  for (uint64_t id = 1; id <= 2; ++id)
    for (auto* s : {&a, &b, &c}) s->input.push(make_frame(id));
  Results results;
  DispatchOptions opt;
  opt.max_batch = 2;
  opt.overlap = false;
  FrameDispatcher d({a.stream(results), b.stream(results), c.stream(results)}, opt);
  d.start();
  ASSERT_TRUE(results.wait_for(6));
  d.stop();
  // Round 1 starts at a, round 2 at b, round 3 at c: c is not left for last.
  EXPECT_EQ(log.sequence(),
            "s:a1 s:b1 c:a1 c:b1 s:b2 s:c1 c:b2 c:c1 s:c2 s:a2 c:c2 c:a2");
}

// Frames 1..3 queued before start (drop-oldest input, nothing superseded): the schedule is fixed.
TEST(FrameDispatcher, OverlapSubmitsTheNextFrameBeforeCompletingTheCurrentOne) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 2, .device_time = 2ms});
  for (uint64_t id = 1; id <= 3; ++id) a.input.push(make_frame(id));
  Results results;
  FrameDispatcher d({a.stream(results)}, DispatchOptions{});
  d.start();
  ASSERT_TRUE(results.wait_for(3));
  d.stop();
  EXPECT_EQ(log.sequence(), "s:a1 s:a2 c:a1 s:a3 c:a2 c:a3");
  DispatchStats s = d.stats();
  EXPECT_EQ(s.overlapped, 2u);
  EXPECT_EQ(s.max_in_flight_seen, 2);
  auto tl = d.timeline();
  ASSERT_EQ(tl.size(), 3u);
  EXPECT_FALSE(tl[0].overlapped);
  EXPECT_TRUE(tl[1].overlapped);
  // The timeline shows it: frame 2 was submitted before frame 1's completion began.
  EXPECT_LT(tl[1].submit_ns, tl[0].complete_start_ns);
  EXPECT_GT(tl[0].device_done_ns, 0);
}

// Just in time: once the stream's device time is known, its next frame is submitted shortly
// before the frame in flight finishes (still overlapped: before that frame's completion), not
// as soon as it is waiting; with overlap_lead_ms < 0 it goes as soon as there is room.
TEST(FrameDispatcher, OverlapSubmitsJustInTimeOnceTheDeviceTimeIsKnown) {
  constexpr auto kDevice = 60ms;
  for (const double lead_ms : {0.5, -1.0}) {
    CallLog log;
    TestStream a("a", &log, nullptr, {.max_in_flight = 2, .device_time = kDevice});
    for (uint64_t id = 1; id <= 3; ++id) a.input.push(make_frame(id));
    Results results;
    DispatchOptions opt;
    opt.overlap_lead_ms = lead_ms;
    FrameDispatcher d({a.stream(results)}, opt);
    d.start();
    ASSERT_TRUE(results.wait_for(3));
    d.stop();
    EXPECT_EQ(log.sequence(), "s:a1 s:a2 c:a1 s:a3 c:a2 c:a3") << "lead " << lead_ms;
    const auto tl = d.timeline();
    ASSERT_EQ(tl.size(), 3u);
    // Frame 3 waits behind frame 2, whose device work runs from frame 1's end for 60 ms.
    const int64_t after_first = tl[2].submit_ns - tl[0].device_done_ns;
    const int64_t half = std::chrono::nanoseconds(kDevice).count() / 2;
    if (lead_ms >= 0) {
      EXPECT_GT(after_first, half) << "submitted too early";
      EXPECT_LT(tl[2].submit_ns, tl[1].complete_start_ns) << "no longer overlapped";
      EXPECT_TRUE(tl[2].overlapped);
    } else {
      EXPECT_LT(after_first, half) << "not submitted as soon as there was room";
    }
  }
}

// At full load (every frame already waiting), just-in-time submission keeps the device busy:
// the frames come out one device time apart, not slower and slower. (An estimate fed by late
// observations once grew on itself: 1 labelmap/s on the H200.)
TEST(FrameDispatcher, JustInTimeOverlapKeepsUpAtFullLoad) {
  constexpr auto kDevice = 20ms;
  constexpr uint64_t kFrames = 16;
  CallLog log;
  TestStream a("a", &log, nullptr,
               {.max_in_flight = 2, .device_time = kDevice});
  for (uint64_t id = 1; id <= kFrames; ++id) a.input.push(make_frame(id));
  Results results;
  FrameDispatcher d({a.stream(results)}, DispatchOptions{});
  d.start();
  ASSERT_TRUE(results.wait_for(kFrames));
  d.stop();
  const auto tl = d.timeline();
  ASSERT_EQ(tl.size(), kFrames);
  const double span_ms = (tl.back().device_done_ns - tl.front().device_done_ns) / 1e6;
  const double per_frame_ms = span_ms / (kFrames - 1);
  // 20 ms of device time per frame; generous bound for a loaded CI machine.
  EXPECT_LT(per_frame_ms, 35.0);
  EXPECT_GT(d.stats().overlapped, kFrames / 2);
}

TEST(FrameDispatcher, OverlapOffCompletesEachFrameBeforeTheNext) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 2});
  for (uint64_t id = 1; id <= 3; ++id) a.input.push(make_frame(id));
  Results results;
  DispatchOptions opt;
  opt.overlap = false;
  FrameDispatcher d({a.stream(results)}, opt);
  d.start();
  ASSERT_TRUE(results.wait_for(3));
  d.stop();
  EXPECT_EQ(log.sequence(), "s:a1 c:a1 s:a2 c:a2 s:a3 c:a3");
  EXPECT_EQ(d.stats().overlapped, 0u);
}

TEST(FrameDispatcher, ProcessorWithoutRoomIsNotOverlapped) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 1});  // the CPU backend's limit
  for (uint64_t id = 1; id <= 3; ++id) a.input.push(make_frame(id));
  Results results;
  FrameDispatcher d({a.stream(results)}, DispatchOptions{});
  d.start();
  ASSERT_TRUE(results.wait_for(3));
  d.stop();
  EXPECT_EQ(log.sequence(), "s:a1 c:a1 s:a2 c:a2 s:a3 c:a3");
  EXPECT_EQ(d.stats().overlapped, 0u);
  EXPECT_EQ(d.stats().early_completions, 0u);
}

TEST(FrameDispatcher, ResultsComeInOrderPerStreamAndNoneIsLost) {
  CallLog log;
  FakeDevice gpu(2);
  TestStream a("a", &log, &gpu, {.max_in_flight = 2, .device_time = 300us});
  TestStream b("b", &log, &gpu, {.max_in_flight = 2, .device_time = 500us});
  Results results;
  FrameDispatcher d({a.stream(results), b.stream(results)}, DispatchOptions{});
  d.start();
  constexpr uint64_t kFrames = 40;
  std::thread producer([&] {
    for (uint64_t id = 1; id <= kFrames; ++id) {
      a.input.push(make_frame(id));
      d.notify();
      if (id % 3 == 0) std::this_thread::sleep_for(1ms);
      b.input.push(make_frame(id));
      d.notify();
    }
  });
  producer.join();
  ASSERT_TRUE(results.wait_for(2 * kFrames));
  d.stop();
  std::map<std::string, std::vector<uint64_t>> ids;
  for (const auto& item : results.items()) {
    ASSERT_TRUE(item.status.ok()) << item.status.to_string();
    EXPECT_EQ(item.frame.id, item.result_id);
    ids[item.stream].push_back(item.result_id);
  }
  for (const std::string s : {"a", "b"}) {
    ASSERT_EQ(ids[s].size(), kFrames) << s;
    for (uint64_t i = 0; i < kFrames; ++i) EXPECT_EQ(ids[s][i], i + 1) << s;
  }
  DispatchStats s = d.stats();
  EXPECT_EQ(s.results, 2 * kFrames);
  EXPECT_EQ(s.frames_submitted, 2 * kFrames);
  uint64_t batched = 0;
  for (size_t k = 1; k < s.batch_sizes.size(); ++k) batched += k * s.batch_sizes[k];
  EXPECT_EQ(batched, 2 * kFrames) << "every frame belongs to exactly one batch";
}

TEST(FrameDispatcher, SubmitAndCompleteErrorsComeBackAsErrorResults) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 2});
  a.processor.fail_submit_ids = {2};
  a.processor.fail_complete_ids = {3};
  for (uint64_t id = 1; id <= 4; ++id) a.input.push(make_frame(id));
  Results results;
  FrameDispatcher d({a.stream(results)}, DispatchOptions{});
  d.start();
  ASSERT_TRUE(results.wait_for(4));
  d.stop();
  auto items = results.items();
  ASSERT_EQ(items.size(), 4u);
  std::map<uint64_t, Status> by_id;
  for (const auto& item : items) by_id[item.frame.id] = item.status;
  EXPECT_TRUE(by_id[1].ok());
  EXPECT_EQ(by_id[2].code(), StatusCode::kInvalidArgument);
  EXPECT_NE(by_id[2].message().find("rejects frame 2"), std::string::npos);
  EXPECT_EQ(by_id[3].code(), StatusCode::kInternal);
  EXPECT_TRUE(by_id[4].ok());
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(items[i].frame.id, i + 1);
  EXPECT_EQ(d.stats().errors, 2u);
  EXPECT_EQ(d.stats().streams.at(0).errors, 2u);
}

TEST(FrameDispatcher, AdmitFalseDropsTheFrameWithoutAResult) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 2});
  for (uint64_t id = 1; id <= 6; ++id) a.input.push(make_frame(id));
  Results results;
  DispatchStream s = a.stream(results);
  s.admit = [](const Frame& f) { return f.id % 2 == 1; };
  FrameDispatcher d({s}, DispatchOptions{});
  d.start();
  ASSERT_TRUE(test_wait([&] { return d.stats().frames_taken == 6; }));
  d.stop();
  auto items = results.items();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].frame.id, 1u);
  EXPECT_EQ(items[1].frame.id, 3u);
  EXPECT_EQ(items[2].frame.id, 5u);
  EXPECT_EQ(d.stats().frames_rejected, 3u);
  EXPECT_EQ(d.stats().streams.at(0).rejected, 3u);
  for (const auto& e : log.events()) EXPECT_EQ(e.frame_id % 2, 1u) << "a dropped frame ran";
}

TEST(FrameDispatcher, StopDrainsQueuedAndInFlightFrames) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 2, .device_time = 20ms});
  TestStream b("b", &log, nullptr, {.max_in_flight = 2, .device_time = 20ms});
  for (uint64_t id = 1; id <= 3; ++id) {
    a.input.push(make_frame(id));
    b.input.push(make_frame(id));
  }
  Results results;
  FrameDispatcher d({a.stream(results), b.stream(results)}, DispatchOptions{});
  d.start();
  d.stop();  // at once: whatever the thread had done, everything must come out
  EXPECT_EQ(results.items().size(), 6u);
  EXPECT_EQ(a.processor.in_flight(), 0);
  EXPECT_EQ(b.processor.in_flight(), 0);
  DispatchStats s = d.stats();
  EXPECT_EQ(s.results, 6u);
  d.stop();  // idempotent
}

TEST(FrameDispatcher, ThrowingCallbacksDoNotKillTheThread) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 2});
  a.processor.throw_submit_ids = {3};
  for (uint64_t id = 1; id <= 5; ++id) a.input.push(make_frame(id));
  Results results;
  DispatchStream s = a.stream(results);
  auto sink = s.on_result;
  s.on_result = [sink](Frame&& f, Result<FrameResult>&& r) {
    const uint64_t id = f.id;
    sink(std::move(f), std::move(r));
    if (id == 1) throw std::runtime_error("on_result failed");
  };
  s.admit = [](const Frame& f) {
    if (f.id == 4) throw std::runtime_error("admit failed");
    return true;
  };
  std::atomic<int> reported{0};
  DispatchOptions opt;
  opt.on_error = [&](const std::exception&) { reported.fetch_add(1); };
  FrameDispatcher d({s}, opt);
  d.start();
  ASSERT_TRUE(results.wait_for(4));  // 1, 2, 3 (submit threw: error result), 5
  d.stop();
  auto items = results.items();
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].frame.id, 1u);
  EXPECT_EQ(items[2].frame.id, 3u);
  EXPECT_EQ(items[2].status.code(), StatusCode::kInternal);
  EXPECT_EQ(items[3].frame.id, 5u);
  EXPECT_TRUE(items[3].status.ok());
  DispatchStats st = d.stats();
  EXPECT_EQ(st.callback_errors, 3u);  // on_result, submit, admit
  EXPECT_EQ(reported.load(), 3);
  EXPECT_EQ(st.frames_rejected, 1u);  // the frame whose admit threw
}

TEST(FrameDispatcher, SizeChangeDrainsTheStreamBeforeAdmit) {
  CallLog log;
  TestStream a("a", &log, nullptr, {.max_in_flight = 2, .device_time = 2ms});
  a.input.push(make_frame(1, 128, 128));
  a.input.push(make_frame(2, 128, 128));
  a.input.push(make_frame(3, 256, 192));
  Results results;
  DispatchStream s = a.stream(results);
  std::vector<int> in_flight_at_admit;
  FakeProcessor* proc = &a.processor;
  s.admit = [&in_flight_at_admit, proc](const Frame& f) {
    in_flight_at_admit.push_back(proc->in_flight());
    if (f.width == 256) proc->reset();  // what the gateway does on a size change
    return true;
  };
  FrameDispatcher d({s}, DispatchOptions{});
  d.start();
  ASSERT_TRUE(results.wait_for(3));
  d.stop();
  ASSERT_EQ(in_flight_at_admit.size(), 3u);
  EXPECT_EQ(in_flight_at_admit[1], 1) << "frame 2 overlapped frame 1 (same size)";
  EXPECT_EQ(in_flight_at_admit[2], 0) << "nothing of the old size in flight at the reset";
  EXPECT_EQ(log.sequence(), "s:a1 s:a2 c:a1 c:a2 s:a3 c:a3");
  EXPECT_EQ(a.processor.resets(), 1);
  EXPECT_EQ(d.stats().early_completions, 1u);
}

TEST(FrameDispatcher, ReturnsPixelsOnlyWhenAsked) {
  CallLog log;
  TestStream a("a", &log, nullptr, {});
  TestStream b("b", &log, nullptr, {});
  a.input.push(make_frame(5));
  b.input.push(make_frame(6));
  Results results;
  DispatchStream sb = b.stream(results);
  sb.return_pixels = false;
  FrameDispatcher d({a.stream(results), sb}, DispatchOptions{});
  d.start();
  ASSERT_TRUE(results.wait_for(2));
  d.stop();
  for (const auto& item : results.items()) {
    EXPECT_EQ(item.frame.width, 128);
    EXPECT_EQ(item.frame.device_name, "Image_Reference");
    if (item.stream == "a") {
      ASSERT_EQ(item.frame.pixels.size(), 128u * 128u);
      EXPECT_EQ(item.frame.pixels[0], 5);
    } else {
      EXPECT_TRUE(item.frame.pixels.empty());
    }
  }
}

TEST(FrameDispatcher, RejectsStreamsWithoutInputOrProcessor) {
  EXPECT_THROW(FrameDispatcher({}, DispatchOptions{}), Error);
  DispatchStream s;
  s.name = "x";
  EXPECT_THROW(FrameDispatcher({s}, DispatchOptions{}), Error);
}

TEST(FrameTimeline, RingKeepsTheNewestOldestFirst) {
  FrameTimeline tl(3);
  for (uint64_t id = 1; id <= 5; ++id) {
    TimelineSpan s;
    s.stream = "a";
    s.frame_id = id;
    s.receive_ns = static_cast<int64_t>(id) * 1'000'000;
    s.take_ns = s.receive_ns + 100'000;
    s.submit_ns = s.take_ns + 100'000;
    s.complete_start_ns = s.submit_ns + 100'000;
    s.complete_ns = s.complete_start_ns + 2'000'000;
    s.batch_size = 1;
    s.overlapped = id % 2 == 0;
    tl.add(s);
  }
  auto v = tl.snapshot();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].frame_id, 3u);
  EXPECT_EQ(v[2].frame_id, 5u);
  TimelineSummary sum = summarize_timeline(v);
  EXPECT_EQ(sum.frames, 3u);
  EXPECT_EQ(sum.overlapped, 1u);
  EXPECT_NEAR(sum.mean_latency_ms, 2.3, 1e-9);
  EXPECT_NEAR(sum.mean_wait_ms, 0.1, 1e-9);
  EXPECT_NEAR(sum.mean_device_wait_ms, 2.0, 1e-9);
  const std::string csv = timeline_csv(v);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);  // header + 3 spans
  EXPECT_NE(csv.find("a,4,0,1,1,1,1.000,1.100,1.200,1.300,0.000,3.300"), std::string::npos) << csv;
}
}  // namespace
}  // namespace um::gateway
