// File: src/monitor/monitor.cpp
// Purpose: the Monitor's state: sampler thread, history and rates, health rules, latest frame,
// config and synthetic flag (renderers live in monitor_json.cpp, prometheus.cpp, frame_png.cpp).
#include "monitor/monitor.h"

#include <algorithm>
#include <cstdio>

#include "core/clock.h"

namespace um::monitor {

namespace {
int64_t ms_to_ns(std::chrono::milliseconds ms) { return static_cast<int64_t>(ms.count()) * 1'000'000; }

}  // namespace

Monitor::Monitor(MonitorOptions options)
    : options_(options), started_ns_(monotonic_ns()), pipeline_(registry_) {
  if (options_.history_points < 2) options_.history_points = 2;
  gpu_sampler_ = options_.probe_gpu ? GpuSampler::open(options_.gpu_index)
                                    : GpuSampler::disabled("GPU probing disabled by option");

  auto last = [this]() { return last_sample(); };
  registry_.callback("um_process_cpu_seconds_total", "CPU time used by this process (user+system)",
                     MetricType::kCounter, {}, [last]() -> std::optional<double> {
                       auto s = last();
                       if (!s || !s->process.available) return std::nullopt;
                       return s->process.cpu_seconds;
                     });
  registry_.callback("um_process_cpu_percent", "CPU use over the last sample period (100 = 1 core)",
                     MetricType::kGauge, {}, [last]() -> std::optional<double> {
                       auto s = last();
                       if (!s || !s->process.cpu_percent_valid) return std::nullopt;
                       return s->process.cpu_percent;
                     });
  registry_.callback("um_process_resident_memory_bytes", "Resident memory of this process",
                     MetricType::kGauge, {}, [last]() -> std::optional<double> {
                       auto s = last();
                       if (!s || !s->process.available) return std::nullopt;
                       return static_cast<double>(s->process.rss_bytes);
                     });
  for (const char* dir : {"in", "out"}) {
    const bool in = dir[0] == 'i';
    registry_.callback("um_fps", "Frames per second over the rate window", MetricType::kGauge,
                       {{"direction", dir}}, [last, in]() -> std::optional<double> {
                         auto s = last();
                         if (!s) return std::nullopt;
                         return in ? s->fps_in : s->fps_out;
                       });
  }
  registry_.callback("um_gpu_available", "1 when NVML reports GPU figures", MetricType::kGauge, {},
                     [last]() -> std::optional<double> {
                       auto s = last();
                       if (!s) return std::nullopt;
                       return s->gpu.available ? 1.0 : 0.0;
                     });
  // Per-device GPU series: the device set is fixed for the process lifetime.
  const GpuStats first = gpu_sampler_->sample();
  for (const GpuDevice& d : first.devices) {
    const int idx = d.index;
    const Labels labels = {{"gpu", std::to_string(idx)}, {"name", d.name}};
    auto field = [last, idx](auto pick) {
      return [last, idx, pick]() -> std::optional<double> {
        auto s = last();
        if (!s || !s->gpu.available) return std::nullopt;
        for (const GpuDevice& dev : s->gpu.devices) {
          if (dev.index == idx) return pick(dev);
        }
        return std::nullopt;
      };
    };
    registry_.callback("um_gpu_utilization_percent", "GPU utilisation (NVML)", MetricType::kGauge,
                       labels, field([](const GpuDevice& g) { return g.utilization_pct; }));
    registry_.callback("um_gpu_memory_used_bytes", "GPU memory in use (NVML)", MetricType::kGauge,
                       labels, field([](const GpuDevice& g) {
                         return static_cast<double>(g.memory_used_bytes);
                       }));
    registry_.callback("um_gpu_memory_total_bytes", "GPU memory size (NVML)", MetricType::kGauge,
                       labels, field([](const GpuDevice& g) {
                         return static_cast<double>(g.memory_total_bytes);
                       }));
  }

  sample(monotonic_ns());
  if (options_.start_sampler) sampler_ = std::thread([this] { sampler_loop(); });
}

Monitor::~Monitor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  sample_cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void Monitor::sampler_loop() {
  const auto period = options_.sample_period;
  auto next = std::chrono::steady_clock::now() + period;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (sample_cv_.wait_until(lock, next, [this] { return stop_; })) break;
    lock.unlock();
    sample(monotonic_ns());
    lock.lock();
    next += period;
    // After a long stall, do not fire a burst of catch-up samples.
    if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now() + period;
  }
}

void Monitor::sample(int64_t now_ns) {
  std::lock_guard<std::mutex> sample_lock(sample_mu_);
  SamplePoint p;
  p.at_ns = now_ns;
  p.wall_ns = wall_clock_ns();
  p.frames_in = pipeline_.frames_in().value();
  p.frames_out = pipeline_.frames_out().value();
  p.drops = static_cast<uint64_t>(registry_.sum("um_drops_total"));
  // Several streams: totals over the streams, RX->TX latency merged over them.
  std::vector<const LatencyHistogram*> latencies = {&pipeline_.rx_to_tx()};
  for (const PipelineMetrics* m : streams()) {
    const PipelineMetrics& pm = *m;
    StreamSample ss;
    ss.name = m->stream();
    ss.frames_in = pm.frames_in().value();
    ss.frames_out = pm.frames_out().value();
    p.frames_in += ss.frames_in;
    p.frames_out += ss.frames_out;
    latencies.push_back(&pm.rx_to_tx());
    p.streams.push_back(std::move(ss));
  }
  p.rx_to_tx = LatencyHistogram::merged_window(latencies, now_ns,
                                               ms_to_ns(options_.percentile_window));
  p.state = primary().visibility();
  p.process = process_sampler_.sample(now_ns);
  p.gpu = gpu_sampler_->sample();

  std::lock_guard<std::mutex> lock(mu_);
  // Rates over the rate window: compare with the newest point at least rate_window old, or the
  // oldest point when the history is shorter (start-up).
  const int64_t window = ms_to_ns(options_.rate_window);
  const SamplePoint* base = nullptr;
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it->at_ns < now_ns) base = &*it;
    if (now_ns - it->at_ns >= window) break;
  }
  if (base) {
    const double dt = static_cast<double>(now_ns - base->at_ns) * 1e-9;
    const double din = static_cast<double>(p.frames_in - base->frames_in);
    const double dout = static_cast<double>(p.frames_out - base->frames_out);
    const double ddrop = static_cast<double>(p.drops - base->drops);
    p.fps_in = din / dt;
    p.fps_out = dout / dt;
    p.drop_rate = ddrop / dt;
    p.drop_ratio = din > 0 ? ddrop / din : 0.0;
    p.frames_in_window = p.frames_in - base->frames_in;
    for (StreamSample& ss : p.streams) {
      for (const StreamSample& b : base->streams) {
        if (b.name != ss.name) continue;
        ss.fps_in = static_cast<double>(ss.frames_in - b.frames_in) / dt;
        ss.fps_out = static_cast<double>(ss.frames_out - b.frames_out) / dt;
      }
    }
  }
  p.seq = next_seq_++;
  history_.push_back(std::move(p));
  while (history_.size() > options_.history_points) history_.pop_front();
  sample_cv_.notify_all();
}

std::vector<SamplePoint> Monitor::history() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {history_.begin(), history_.end()};
}

std::optional<SamplePoint> Monitor::last_sample() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (history_.empty()) return std::nullopt;
  return history_.back();
}

uint64_t Monitor::wait_for_sample(uint64_t after_seq, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  auto newest = [this] { return history_.empty() ? 0 : history_.back().seq; };
  sample_cv_.wait_for(lock, timeout, [&] { return stop_ || newest() > after_seq; });
  return newest();
}

bool Monitor::shutting_down() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

HealthReport Monitor::health(int64_t now_ns) const {
  HealthReport r;
  const HealthPolicy& pol = options_.health;
  std::vector<const PipelineMetrics*> inputs = streams();
  if (inputs.empty()) inputs.push_back(&pipeline_);
  for (const PipelineMetrics* m : inputs) {
    // Several streams: each one's silence is its own reason, named.
    const std::string who = m->stream().empty() ? "" : "stream '" + m->stream() + "': ";
    const int64_t last_rx = m->last_rx_ns();
    if (last_rx == 0) {
      r.reasons.push_back(who + "no frames received yet");
      continue;
    }
    const double age_s = static_cast<double>(now_ns - last_rx) * 1e-9;
    if (age_s > pol.max_frame_age_s) {
      char buf[128];
      std::snprintf(buf, sizeof(buf), "no frames for %.1f s (limit %.1f s)", age_s,
                    pol.max_frame_age_s);
      r.reasons.push_back(who + buf);
    }
  }
  for (const FamilySnapshot& f : registry_.collect(now_ns, 0, "um_connected")) {
    for (const SeriesSnapshot& s : f.series) {
      if (s.value == 0.0 && !s.labels.empty()) {
        r.reasons.push_back("stream '" + s.labels.front().second + "' disconnected");
      }
    }
  }
  if (auto s = last_sample()) {
    if (s->frames_in_window >= pol.min_frames_for_drop_ratio && s->drop_ratio > pol.max_drop_ratio) {
      char buf[160];
      std::snprintf(buf, sizeof(buf), "high drop rate: %.0f%% of frames dropped (limit %.0f%%)",
                    100.0 * s->drop_ratio, 100.0 * pol.max_drop_ratio);
      r.reasons.push_back(buf);
    }
  }
  r.ok = r.reasons.empty();
  return r;
}

PipelineMetrics& Monitor::add_stream(const std::string& name) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  for (const auto& m : streams_)
    if (m->stream() == name) return *m;
  streams_.push_back(std::make_unique<PipelineMetrics>(registry_, name));
  return *streams_.back();
}

std::vector<std::string> Monitor::stream_names() const {
  std::vector<std::string> names;
  for (const PipelineMetrics* m : streams()) names.push_back(m->stream());
  return names;
}

std::vector<const PipelineMetrics*> Monitor::streams() const {
  std::lock_guard<std::mutex> lock(streams_mu_);
  std::vector<const PipelineMetrics*> out;
  for (const auto& m : streams_) out.push_back(m.get());
  return out;
}

const PipelineMetrics& Monitor::primary() const {
  std::lock_guard<std::mutex> lock(streams_mu_);
  return streams_.empty() ? pipeline_ : *streams_.front();
}

void Monitor::set_config_json(std::string json) {
  std::lock_guard<std::mutex> lock(mu_);
  config_json_ = std::move(json);
}

std::string Monitor::config_json() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_json_;
}

void Monitor::set_synthetic_weights(bool synthetic, std::string detail) {
  std::lock_guard<std::mutex> lock(mu_);
  synthetic_ = synthetic;
  synthetic_detail_ = std::move(detail);
}

bool Monitor::synthetic_weights(std::string* detail) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (detail) *detail = synthetic_detail_;
  return synthetic_;
}

bool Monitor::offer_frame(const FrameView& f, int64_t now_ns) {
  if (f.width <= 0 || f.height <= 0 || !f.gray) return false;
  const int64_t period = ms_to_ns(options_.display_period);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_frame_copy_ns_ != 0 && now_ns - last_frame_copy_ns_ < period) return false;
    last_frame_copy_ns_ = now_ns;
  }
  // Copy outside the lock: up to 2 x 4 MiB for a 2048^2 frame.
  auto d = std::make_shared<DisplayFrame>();
  const size_t n = static_cast<size_t>(f.width) * static_cast<size_t>(f.height);
  d->width = f.width;
  d->height = f.height;
  d->gray.assign(f.gray, f.gray + n);
  if (f.mask) d->mask.assign(f.mask, f.mask + n);
  d->box = f.box;
  d->frame_id = f.frame_id;
  d->state = f.state;
  d->score = f.score;
  d->at_ns = now_ns;
  std::lock_guard<std::mutex> lock(mu_);
  d->seq = ++frame_seq_;
  frame_ = std::move(d);
  return true;
}

std::optional<DisplayFrame> Monitor::latest_frame() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!frame_) return std::nullopt;
  return *frame_;
}

}  // namespace um::monitor
