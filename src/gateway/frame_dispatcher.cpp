// File: src/gateway/frame_dispatcher.cpp
// Purpose: the scheduling of frame_dispatcher.h (rules 1-4 there): one thread, rounds of
// open batch -> fill (latency-capped wait) -> overlap submits -> complete in order.
#include "gateway/frame_dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>

#include "core/clock.h"

namespace um::gateway {

// A submitted frame the dispatcher has not completed yet.
struct FrameDispatcher::InFlight {
  uint64_t seq = 0;         // dispatcher-wide submission number (orders completions)
  pipeline::Frame header;   // the frame as taken; pixels only when return_pixels
  int64_t take_ns = 0;
  int64_t submit_ns = 0;
  uint64_t batch_id = 0;
  bool overlapped = false;
};

struct FrameDispatcher::StreamState {
  DispatchStream cfg;
  std::deque<InFlight> in_flight;  // submitted, not completed; oldest first
  int last_width = 0;              // size of the last admitted frame (0: none yet)
  int last_height = 0;
  // Just-in-time overlap: the device time of this stream's recent frames (device_done of a
  // frame minus when it could start: its submit, or the previous frame's device_done), and the
  // host time its last frame's device work was seen done. Empty for a processor that reports no
  // device time (the CPU backend).
  std::deque<int64_t> recent_device_ns;
  int64_t last_device_done_ns = 0;
};

namespace {

int resolve_max_batch(int requested, size_t streams) {
  const int n = static_cast<int>(streams);
  return requested <= 0 || requested > n ? n : requested;
}

// The frame without its pixels (copying those is the caller's choice).
pipeline::Frame header_of(pipeline::Frame& f, bool with_pixels) {
  std::vector<uint8_t> pixels = std::move(f.pixels);
  pipeline::Frame h = f;
  f.pixels = std::move(pixels);
  if (with_pixels) h.pixels = f.pixels;
  return h;
}

}  // namespace

FrameDispatcher::FrameDispatcher(std::vector<DispatchStream> streams, DispatchOptions options)
    : options_(std::move(options)),
      max_batch_(resolve_max_batch(options_.max_batch, streams.size())),
      max_wait_ns_(static_cast<int64_t>(std::max(0.0, options_.max_wait_ms) * 1e6)),
      timeline_(options_.timeline_capacity) {
  if (streams.empty()) throw Error(invalid_argument("frame dispatcher: no streams"));
  for (size_t i = 0; i < streams.size(); ++i) {
    if (streams[i].input == nullptr || streams[i].processor == nullptr) {
      throw Error(invalid_argument("frame dispatcher: stream " + std::to_string(i) + " ('" +
                                   streams[i].name + "') has no input or no processor"));
    }
  }
  stats_.batch_sizes.assign(static_cast<size_t>(max_batch_) + 1, 0);
  for (DispatchStream& s : streams) {
    auto st = std::make_unique<StreamState>();
    stats_.streams.push_back(StreamDispatchStats{s.name});
    st->cfg = std::move(s);
    streams_.push_back(std::move(st));
  }
}

FrameDispatcher::~FrameDispatcher() { stop(); }

void FrameDispatcher::start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_ || stopped_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void FrameDispatcher::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  {
    std::lock_guard<std::mutex> wake(wake_mu_);
    stop_requested_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FrameDispatcher::notify() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    notified_ = true;
  }
  wake_cv_.notify_one();
}

bool FrameDispatcher::stop_requested() const {
  std::lock_guard<std::mutex> lock(wake_mu_);
  return stop_requested_;
}

void FrameDispatcher::wait_for_frames(int64_t deadline_ns) {
  const int64_t left = deadline_ns - monotonic_ns();
  std::unique_lock<std::mutex> lock(wake_mu_);
  if (left > 0) {
    wake_cv_.wait_for(lock, std::chrono::nanoseconds(left),
                      [&] { return notified_ || stop_requested_; });
  }
  notified_ = false;  // the inputs are checked after this, so no push can be missed
}

DispatchStats FrameDispatcher::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

void FrameDispatcher::record_exception(const char* where, const std::exception& e) {
  spdlog::error("[dispatch] exception in {}: {}", where, e.what());
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.callback_errors;
  }
  if (options_.on_error) {
    try {
      options_.on_error(e);
    } catch (const std::exception& again) {
      spdlog::error("[dispatch] on_error threw: {}", again.what());
    }
  }
}

// --- the thread ---------------------------------------------------------------------------------

void FrameDispatcher::run() {
  while (!stop_requested()) {
    try {
      round(/*draining=*/false);
    } catch (const std::exception& e) {
      record_exception("dispatch round", e);
    }
  }
  // Drain: what the inputs still hold, then everything in flight. Bounded, so a producer that
  // keeps pushing after stop() cannot keep the thread alive.
  size_t rounds_left = 2;
  for (const auto& st : streams_) rounds_left += st->cfg.input->capacity();
  bool busy = true;
  while (busy && rounds_left-- > 0) {
    try {
      busy = round(/*draining=*/true);
    } catch (const std::exception& e) {
      record_exception("dispatch drain", e);
    }
  }
  for (size_t s = 0; s < streams_.size(); ++s) {
    while (!streams_[s]->in_flight.empty()) complete_oldest(s, /*early=*/false);
  }
  carried_.clear();
  batch_.clear();
}

bool FrameDispatcher::round(bool draining) {
  // Rule 1: open the batch with the frames submitted early, else wait for a first frame.
  current_batch_id_ = next_batch_id_++;
  // Normally exactly carried_; taking every in-flight frame also covers frames left in flight
  // by a round that an exception interrupted.
  batch_.clear();
  carried_.clear();
  for (size_t s = 0; s < streams_.size(); ++s) {
    for (const InFlight& f : streams_[s]->in_flight) batch_.emplace_back(s, f.seq);
  }
  std::sort(batch_.begin(), batch_.end(),
            [](const Member& x, const Member& y) { return x.second < y.second; });
  std::vector<bool> in_batch(streams_.size(), false);
  for (const Member& m : batch_) in_batch[m.first] = true;
  if (batch_.empty()) {
    for (;;) {
      for (size_t i = 0; i < streams_.size() && batch_.empty(); ++i) {
        const size_t s = (first_stream_ + i) % streams_.size();
        if (take_and_submit(s, current_batch_id_, false, batch_) == Take::kSubmitted) {
          in_batch[s] = true;
        }
      }
      if (!batch_.empty()) break;
      if (draining || stop_requested()) return false;
      wait_for_frames(monotonic_ns() +
                      static_cast<int64_t>(std::max(1.0, options_.idle_recheck_ms) * 1e6));
    }
  }

  // Rule 2: fill, waiting at most max_wait from the first member's take.
  int64_t first_take = INT64_MAX;
  for (const Member& m : batch_) {
    for (const InFlight& f : streams_[m.first]->in_flight) {
      if (f.seq == m.second) first_take = std::min(first_take, f.take_ns);
    }
  }
  if (first_take == INT64_MAX) first_take = monotonic_ns();
  const bool may_wait = !draining && streams_.size() > 1 && max_batch_ > 1;
  const int64_t deadline = first_take + max_wait_ns_;
  for (;;) {
    for (size_t i = 0; i < streams_.size(); ++i) {
      const size_t s = (first_stream_ + i) % streams_.size();
      if (in_batch[s] || static_cast<int>(batch_.size()) >= max_batch_) continue;
      if (take_and_submit(s, current_batch_id_, false, batch_) == Take::kSubmitted) {
        in_batch[s] = true;
      }
    }
    const bool full = static_cast<int>(batch_.size()) >= max_batch_ ||
                      std::all_of(in_batch.begin(), in_batch.end(), [](bool b) { return b; });
    if (full || !may_wait || monotonic_ns() >= deadline || stop_requested()) break;
    wait_for_frames(deadline);
  }

  // Round robin: the next round looks at the streams from the next one on, so that with
  // max_batch < streams no stream is always last in line.
  first_stream_ = (first_stream_ + 1) % streams_.size();

  const size_t size = batch_.size();
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (size > 0 && size < stats_.batch_sizes.size()) ++stats_.batch_sizes[size];
  }

  // Rules 3 and 4: before each completion, submit what has arrived for streams with room.
  for (const Member& m : batch_) {
    if (options_.overlap) {
      submit_overlap_frames();
      // This member's stream: its next frame is submitted just before this frame's device work
      // ends (overlap_lead_ms), not as soon as it arrives: taken earlier, it would wait on the
      // GPU behind this frame, older than a frame taken then from the latest-frame slot.
      // complete() below would block until the device work ends anyway.
      wait_until_just_in_time(m.first);
      submit_overlap_frames();
    }
    auto& fl = streams_[m.first]->in_flight;
    // Completed early already (processor full / size change) when the front is newer.
    while (!fl.empty() && fl.front().seq <= m.second) complete_oldest(m.first, /*early=*/false);
  }
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.batches;
  }
  return true;
}

void FrameDispatcher::submit_overlap_frames() {
  const uint64_t next_id = current_batch_id_ + 1;
  const int64_t now = monotonic_ns();
  for (size_t i = 0; i < streams_.size(); ++i) {
    const size_t s = (first_stream_ + i) % streams_.size();
    if (static_cast<int>(carried_.size()) >= max_batch_) return;
    const bool carried = std::any_of(carried_.begin(), carried_.end(),
                                     [&](const Member& m) { return m.first == s; });
    if (carried) continue;  // at most one frame per stream and batch
    StreamState& st = *streams_[s];
    if (st.cfg.processor->in_flight() >= st.cfg.processor->max_in_flight()) continue;
    if (st.cfg.input->size() == 0) continue;
    if (now < just_in_time_ns(s)) continue;  // too early: the frame stays in the latest slot
    take_and_submit(s, next_id, /*overlapped=*/true, carried_);
  }
}

int64_t FrameDispatcher::just_in_time_ns(size_t s) const {
  const StreamState& st = *streams_[s];
  // One stream only: with several, the streams' graphs share the GPU, a stream's device time
  // depends on the others' load, and holding frames back cost throughput (H200, 8 streams at
  // 400 frames/s each: 324 -> 188 labelmaps/s); their frames go as soon as there is room.
  if (options_.overlap_lead_ms < 0 || streams_.size() > 1 || st.in_flight.empty() ||
      st.recent_device_ns.empty()) {
    return 0;
  }
  // The shortest recent device time: the estimate errs early (a frame submitted a little too
  // soon waits on the GPU), never late (which would leave the GPU idle and delay this frame).
  const int64_t device_ns =
      *std::min_element(st.recent_device_ns.begin(), st.recent_device_ns.end());
  int64_t done = std::max(st.in_flight.front().submit_ns, st.last_device_done_ns);
  done += device_ns * static_cast<int64_t>(st.in_flight.size());
  return done - static_cast<int64_t>(options_.overlap_lead_ms * 1e6);
}

void FrameDispatcher::wait_until_just_in_time(size_t s) {
  StreamState& st = *streams_[s];
  const size_t in_flight_before = st.in_flight.size();
  for (;;) {
    // Done waiting once the stream has no room, or its next frame went in: waiting on for the
    // NEXT just-in-time point would delay this frame's completion by a whole frame.
    if (st.cfg.processor->in_flight() >= st.cfg.processor->max_in_flight()) return;
    if (st.in_flight.size() != in_flight_before) return;
    const int64_t jit = just_in_time_ns(s);
    if (jit <= monotonic_ns() || stop_requested()) return;
    wait_for_frames(jit);
    submit_overlap_frames();  // frames of every stream (this one too, once due) as they arrive
  }
}

// --- one frame ----------------------------------------------------------------------------------

FrameDispatcher::Take FrameDispatcher::take_and_submit(size_t s, uint64_t batch_id,
                                                       bool overlapped,
                                                       std::vector<Member>& members) {
  StreamState& st = *streams_[s];
  std::optional<pipeline::Frame> frame = st.cfg.input->pop(std::chrono::nanoseconds(0));
  if (!frame) return Take::kNone;
  const int64_t take_ns = monotonic_ns();
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.frames_taken;
    ++stats_.streams[s].taken;
  }

  // A new frame size: nothing of the old size may be in flight when admit() sees it (it may
  // reset the processor).
  if (st.last_width != 0 && (frame->width != st.last_width || frame->height != st.last_height)) {
    while (!st.in_flight.empty()) complete_oldest(s, /*early=*/true);
  }
  bool admitted = true;
  if (st.cfg.admit) {
    try {
      admitted = st.cfg.admit(*frame);
    } catch (const std::exception& e) {
      record_exception("admit", e);
      admitted = false;
    }
  }
  if (!admitted) {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.frames_rejected;
    ++stats_.streams[s].rejected;
    return Take::kRejected;
  }
  st.last_width = frame->width;
  st.last_height = frame->height;

  pipeline::FrameProcessor& proc = *st.cfg.processor;
  while (proc.in_flight() >= proc.max_in_flight() && !st.in_flight.empty()) {
    complete_oldest(s, /*early=*/true);
  }

  int in_flight_before = 0;
  for (const auto& other : streams_) in_flight_before += static_cast<int>(other->in_flight.size());
  // Overlap only when another frame's device work can actually be running.
  overlapped = overlapped && in_flight_before > 0;

  InFlight rec;
  rec.seq = next_seq_++;
  rec.header = header_of(*frame, st.cfg.return_pixels);
  rec.take_ns = take_ns;
  rec.batch_id = batch_id;
  rec.overlapped = overlapped;
  Status submitted;
  try {
    submitted = proc.submit(std::move(*frame));
  } catch (const std::exception& e) {
    record_exception("submit", e);
    submitted = internal_error("frame " + std::to_string(rec.header.id) + ": submit threw: " +
                               e.what());
  }
  rec.submit_ns = monotonic_ns();
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.frames_submitted;
    if (submitted.ok()) {
      if (overlapped) ++stats_.overlapped;
      stats_.max_in_flight_seen = std::max(stats_.max_in_flight_seen, in_flight_before + 1);
    }
  }
  if (!submitted.ok()) {
    // In order per stream: the stream's earlier frames come out first.
    while (!st.in_flight.empty()) complete_oldest(s, /*early=*/true);
    const int64_t now = monotonic_ns();
    deliver(s, std::move(rec), Result<pipeline::FrameResult>(submitted), now, now);
    return Take::kFailed;
  }
  members.emplace_back(s, rec.seq);
  st.in_flight.push_back(std::move(rec));
  return Take::kSubmitted;
}

void FrameDispatcher::complete_oldest(size_t s, bool early) {
  StreamState& st = *streams_[s];
  InFlight rec = std::move(st.in_flight.front());
  st.in_flight.pop_front();
  const int64_t start = monotonic_ns();
  std::optional<Result<pipeline::FrameResult>> result;
  try {
    result.emplace(st.cfg.processor->complete());
  } catch (const std::exception& e) {
    record_exception("complete", e);
    result.emplace(internal_error("frame " + std::to_string(rec.header.id) +
                                  ": complete threw: " + e.what()));
  }
  const int64_t end = monotonic_ns();
  if (result->ok() && (*result)->timings.device_done_ns > 0) {
    const int64_t done = (*result)->timings.device_done_ns;
    const int64_t began = std::max(rec.submit_ns, st.last_device_done_ns);
    // A device time counts only when complete() actually waited for the device: then `done` is
    // when the work ended. When the work had ended before complete() was called, `done` is just
    // that call's time, later than the real end: such a sample would inflate the estimate, the
    // next wait would be longer, the next sample later still (it fed on itself on the H200).
    constexpr int64_t kWaitedNs = 20'000;
    if (done - start > kWaitedNs && done > began) {
      st.recent_device_ns.push_back(done - began);
      if (st.recent_device_ns.size() > kDeviceTimeWindow) st.recent_device_ns.pop_front();
    }
    st.last_device_done_ns = done;
  }
  if (early) {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.early_completions;
  }
  deliver(s, std::move(rec), std::move(*result), start, end);
}

int FrameDispatcher::batch_size_of(uint64_t batch_id) const {
  if (batch_id == current_batch_id_) return static_cast<int>(batch_.size());
  if (batch_id == current_batch_id_ + 1) return static_cast<int>(carried_.size());
  return 0;
}

void FrameDispatcher::deliver(size_t s, InFlight&& f, Result<pipeline::FrameResult>&& r,
                              int64_t complete_start_ns, int64_t complete_ns) {
  StreamState& st = *streams_[s];
  TimelineSpan span;
  span.stream = st.cfg.name;
  span.frame_id = f.header.id;
  span.receive_ns = f.header.receive_time_ns;
  span.take_ns = f.take_ns;
  span.submit_ns = f.submit_ns;
  span.complete_start_ns = complete_start_ns;
  span.device_done_ns = r.ok() ? r->timings.device_done_ns : 0;
  span.complete_ns = complete_ns;
  span.batch_id = f.batch_id;
  span.batch_size = batch_size_of(f.batch_id);
  span.overlapped = f.overlapped;
  span.ok = r.ok();
  timeline_.add(std::move(span));
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.results;
    ++stats_.streams[s].results;
    if (!r.ok()) {
      ++stats_.errors;
      ++stats_.streams[s].errors;
    }
  }
  if (!st.cfg.on_result) return;
  try {
    st.cfg.on_result(std::move(f.header), std::move(r));
  } catch (const std::exception& e) {
    record_exception("on_result", e);
  }
}

}  // namespace um::gateway
