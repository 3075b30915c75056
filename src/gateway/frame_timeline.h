// File: src/gateway/frame_timeline.h
// Purpose: per-frame stage timelines of the frame dispatcher (frame_dispatcher.h), kept in a
// bounded ring, so that the overlap of issue 10 can be SEEN in measured data: frame n+1 taken
// and submitted (pixels uploaded, graph launched) while frame n's device work still runs, and
// the frames of several streams in flight together.
//
// One TimelineSpan per frame that produced a result (monotonic ns, um::monotonic_ns()):
//   receive_ns          RX finished reading the frame (Frame::receive_time_ns)
//   take_ns             the dispatcher took it from the stream's rx slot
//   submit_ns           FrameProcessor::submit() returned (upload + launch queued)
//   complete_start_ns   the dispatcher called complete() (the host begins waiting for it)
//   device_done_ns      the host saw the frame's device work finished (StageTimings; 0 on the
//                       CPU backend, whose work all runs inside complete())
//   complete_ns         complete() returned (result ready, before on_result)
// A frame overlapped another when its submit_ns precedes an earlier frame's complete_start_ns.
//
// Usage:
//   FrameTimeline tl(512);                    // keeps the newest 512 spans
//   tl.add(span);                             // dispatcher thread
//   std::vector<TimelineSpan> v = tl.snapshot();   // any thread, oldest first
//   std::string csv = timeline_csv(v);        // one line per frame, for plots
//   TimelineSummary s = summarize_timeline(v);
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace um::gateway {

struct TimelineSpan {
  std::string stream;          // DispatchStream::name
  uint64_t frame_id = 0;       // Frame::id
  int64_t receive_ns = 0;
  int64_t take_ns = 0;
  int64_t submit_ns = 0;
  int64_t complete_start_ns = 0;
  int64_t device_done_ns = 0;  // 0: not reported by the processor
  int64_t complete_ns = 0;
  uint64_t batch_id = 0;       // frames of one batch share it (1, 2, ... in dispatch order)
  int batch_size = 0;          // frames in that batch
  bool overlapped = false;     // submitted ahead of the previous batch's completion
  bool ok = true;              // false: the result was an error Status
};

// Bounded ring of spans; thread-safe (the dispatcher adds, anyone reads).
class FrameTimeline {
 public:
  explicit FrameTimeline(size_t capacity);
  void add(TimelineSpan span);
  // The kept spans, oldest first.
  std::vector<TimelineSpan> snapshot() const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<TimelineSpan> ring_;  // guarded by mu_
  size_t next_ = 0;                 // guarded by mu_: slot the next add() writes (when full)
};

// Header line + one line per span; times relative to the first span's receive_ns, in ms.
std::string timeline_csv(const std::vector<TimelineSpan>& spans);

// What the spans show, in numbers.
struct TimelineSummary {
  size_t frames = 0;
  size_t overlapped = 0;          // spans with overlapped == true
  double mean_batch_size = 0;     // over frames
  double mean_latency_ms = 0;     // complete_ns - receive_ns
  double max_latency_ms = 0;
  double mean_wait_ms = 0;        // take_ns - receive_ns (time in the rx slot)
  double mean_device_wait_ms = 0; // complete_ns - complete_start_ns (host blocked in complete)
};
TimelineSummary summarize_timeline(const std::vector<TimelineSpan>& spans);

}  // namespace um::gateway
