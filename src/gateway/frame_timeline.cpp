// File: src/gateway/frame_timeline.cpp
// Purpose: the bounded span ring, its CSV form and its summary (frame_timeline.h).
#include "gateway/frame_timeline.h"

#include <algorithm>
#include <cstdio>

namespace um::gateway {

FrameTimeline::FrameTimeline(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  ring_.reserve(std::min<size_t>(capacity_, 4096));
}

void FrameTimeline::add(TimelineSpan span) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(span));
    return;
  }
  ring_[next_] = std::move(span);
  next_ = (next_ + 1) % capacity_;
}

std::vector<TimelineSpan> FrameTimeline::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TimelineSpan> out;
  out.reserve(ring_.size());
  // Until the ring is full, next_ stays 0 and ring_ is already oldest first.
  for (size_t i = 0; i < ring_.size(); ++i) out.push_back(ring_[(next_ + i) % ring_.size()]);
  return out;
}

namespace {
double rel_ms(int64_t t, int64_t origin) {
  return t == 0 ? 0.0 : static_cast<double>(t - origin) * 1e-6;
}
double ms(int64_t ns) { return static_cast<double>(ns) * 1e-6; }
}  // namespace

std::string timeline_csv(const std::vector<TimelineSpan>& spans) {
  std::string out =
      "stream,frame_id,batch_id,batch_size,overlapped,ok,receive_ms,take_ms,submit_ms,"
      "complete_start_ms,device_done_ms,complete_ms\n";
  if (spans.empty()) return out;
  int64_t origin = spans.front().receive_ns;
  for (const TimelineSpan& s : spans) origin = std::min(origin, s.receive_ns);
  char line[256];
  for (const TimelineSpan& s : spans) {
    std::snprintf(line, sizeof(line),
                  ",%llu,%llu,%d,%d,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n",
                  static_cast<unsigned long long>(s.frame_id),
                  static_cast<unsigned long long>(s.batch_id), s.batch_size,
                  s.overlapped ? 1 : 0, s.ok ? 1 : 0, rel_ms(s.receive_ns, origin),
                  rel_ms(s.take_ns, origin), rel_ms(s.submit_ns, origin),
                  rel_ms(s.complete_start_ns, origin), rel_ms(s.device_done_ns, origin),
                  rel_ms(s.complete_ns, origin));
    out += s.stream;
    out += line;
  }
  return out;
}

TimelineSummary summarize_timeline(const std::vector<TimelineSpan>& spans) {
  TimelineSummary sum;
  sum.frames = spans.size();
  if (spans.empty()) return sum;
  double batch = 0, latency = 0, wait = 0, device_wait = 0;
  for (const TimelineSpan& s : spans) {
    if (s.overlapped) ++sum.overlapped;
    batch += s.batch_size;
    const double l = ms(s.complete_ns - s.receive_ns);
    latency += l;
    sum.max_latency_ms = std::max(sum.max_latency_ms, l);
    wait += ms(s.take_ns - s.receive_ns);
    device_wait += ms(s.complete_ns - s.complete_start_ns);
  }
  const double n = static_cast<double>(spans.size());
  sum.mean_batch_size = batch / n;
  sum.mean_latency_ms = latency / n;
  sum.mean_wait_ms = wait / n;
  sum.mean_device_wait_ms = device_wait / n;
  return sum;
}

}  // namespace um::gateway
