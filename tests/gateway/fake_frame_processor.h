// File: tests/gateway/fake_frame_processor.h
// Purpose: a test double of the pipelined FrameProcessor API (frame_processor.h) for the frame
// dispatcher's tests and benchmark: no models, but the submit/complete contract of the real
// backends (at most max_in_flight frames, results in submission order, kFailedPrecondition
// beyond that), an emulated device, injectable failures, and a log of every call.
//
// The emulated device: a FakeDevice with `lanes` frames running at once at full speed (how
// much of the GPU one batch-1 frame leaves idle). submit() schedules the frame's device work on
// the earliest free lane, after the same processor's previous frame (one CUDA stream per
// processor): done = max(now, lane free, previous done) + device_time. complete() sleeps until
// then (the host's one wait), then spends host_complete time (the host steps). submit() spends
// host_submit time (pixel staging + launch). Sleeps, not spins: the CI machine has 2 cores.
//
// Usage:
//   FakeDevice gpu(/*lanes=*/2);
//   CallLog log;
//   FakeProcessor p("a", &log, &gpu, {.max_in_flight = 2, .device_time = 4ms});
//   p.fail_submit_ids = {3};                 // submit(frame 3) returns kInvalidArgument
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "pipeline/frame_processor.h"

namespace um::gateway::test {

// Every submit / complete, in call order (all processors of a test share one log).
struct CallEvent {
  enum Kind { kSubmit, kComplete } kind;
  std::string processor;
  uint64_t frame_id;
  int64_t t_ns;
};

class CallLog {
 public:
  void add(CallEvent e) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  std::vector<CallEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // "s:a1 s:a2 c:a1 ..." (s = submit, c = complete; processor name + frame id).
  std::string sequence() const {
    std::string out;
    for (const CallEvent& e : events()) {
      if (!out.empty()) out += ' ';
      out += (e.kind == CallEvent::kSubmit ? "s:" : "c:") + e.processor +
             std::to_string(e.frame_id);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<CallEvent> events_;
};

// A device shared by several processors: `lanes` frames at once.
class FakeDevice {
 public:
  explicit FakeDevice(int lanes = 1) : lane_free_(static_cast<size_t>(std::max(1, lanes)), 0) {}
  // When work of `duration` queued now, after `after`, finishes.
  int64_t schedule(int64_t now, int64_t after, int64_t duration) {
    std::lock_guard<std::mutex> lock(mu_);
    auto lane = std::min_element(lane_free_.begin(), lane_free_.end());
    const int64_t start = std::max({now, after, *lane});
    *lane = start + duration;
    return *lane;
  }

 private:
  std::mutex mu_;
  std::vector<int64_t> lane_free_;
};

struct FakeTiming {
  int max_in_flight = 2;
  std::chrono::microseconds device_time{0};
  std::chrono::microseconds host_submit{0};
  std::chrono::microseconds host_complete{0};
};

class FakeProcessor final : public pipeline::FrameProcessor {
 public:
  FakeProcessor(std::string name, CallLog* log, FakeDevice* device, FakeTiming timing = {})
      : name_(std::move(name)), log_(log), device_(device), timing_(timing) {}

  std::set<uint64_t> fail_submit_ids;    // submit() returns kInvalidArgument for these
  std::set<uint64_t> fail_complete_ids;  // complete() returns kInternal for these
  std::set<uint64_t> throw_submit_ids;   // submit() throws std::runtime_error for these

  Status submit(pipeline::Frame frame) override {
    if (in_flight() >= max_in_flight()) {
      return failed_precondition("fake submit: already " + std::to_string(in_flight()) +
                                 " in flight");
    }
    if (throw_submit_ids.count(frame.id)) throw std::runtime_error("fake submit threw");
    if (fail_submit_ids.count(frame.id)) {
      return invalid_argument("fake submit rejects frame " + std::to_string(frame.id));
    }
    if (timing_.host_submit.count() > 0) std::this_thread::sleep_for(timing_.host_submit);
    const int64_t now = monotonic_ns();
    const int64_t device_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(timing_.device_time).count();
    last_done_ = device_ ? device_->schedule(now, last_done_, device_ns)
                         : std::max(now, last_done_) + device_ns;
    done_at_.push_back(last_done_);
    submit_at_.push_back(monotonic_ns());
    if (log_) log_->add({CallEvent::kSubmit, name_, frame.id, submit_at_.back()});
    pending_.push_back(std::move(frame));
    return Status::Ok();
  }

  Result<pipeline::FrameResult> complete() override {
    if (pending_.empty()) return failed_precondition("fake complete: nothing in flight");
    const pipeline::Frame frame = std::move(pending_.front());
    pending_.pop_front();
    const int64_t done = done_at_.front();
    const int64_t submitted = submit_at_.front();
    done_at_.pop_front();
    submit_at_.pop_front();
    const int64_t wait = done - monotonic_ns();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    const int64_t device_done = monotonic_ns();
    if (timing_.host_complete.count() > 0) std::this_thread::sleep_for(timing_.host_complete);
    if (log_) log_->add({CallEvent::kComplete, name_, frame.id, monotonic_ns()});
    if (fail_complete_ids.count(frame.id)) {
      return internal_error("fake complete fails frame " + std::to_string(frame.id));
    }
    pipeline::FrameResult r = result_for(frame);
    r.timings.submit_ns = submitted;
    r.timings.device_done_ns = device_done;
    return r;
  }

  Result<pipeline::FrameResult> process(const pipeline::Frame& frame) override {
    return result_for(frame);
  }
  int max_in_flight() const override { return timing_.max_in_flight; }
  void reset() override { ++resets_; }
  std::string description() const override { return "fake " + name_; }
  const pipeline::ProcessorConfig& config() const override { return config_; }
  int resets() const { return resets_; }

 private:
  static pipeline::FrameResult result_for(const pipeline::Frame& frame) {
    pipeline::FrameResult r;
    r.frame_id = frame.id;
    r.width = frame.width;
    r.height = frame.height;
    return r;
  }

  std::string name_;
  CallLog* log_;
  FakeDevice* device_;
  FakeTiming timing_;
  pipeline::ProcessorConfig config_;
  std::deque<int64_t> done_at_;    // per pending frame: when its emulated device work ends
  std::deque<int64_t> submit_at_;  // per pending frame: when submit() returned
  int64_t last_done_ = 0;
  int resets_ = 0;
};

// A valid gray frame of the given size (pixels = id, so tests can tell frames apart).
inline pipeline::Frame make_frame(uint64_t id, int width = 128, int height = 128) {
  pipeline::Frame f;
  f.id = id;
  f.width = width;
  f.height = height;
  f.pixels.assign(static_cast<size_t>(width) * static_cast<size_t>(height),
                  static_cast<uint8_t>(id & 0xff));
  f.device_name = "Image_Reference";
  f.receive_time_ns = monotonic_ns();
  return f;
}

}  // namespace um::gateway::test
