// File: src/monitor/monitor_json.cpp
// Purpose: the JSON views of the Monitor: /api/v1/metrics (also each SSE event and each KPI log
// line), /api/v1/history and /api/v1/health. Durations are milliseconds in JSON ("_ms" keys);
// Prometheus (prometheus.cpp) uses seconds, as its conventions ask.
//
// /api/v1/metrics shape (every figure measured; absent/unavailable ones say so):
//   { "time_unix_ms", "uptime_s", "seq",
//     "synthetic_weights": {"active", "detail"},
//     "fps": {"in", "out", "window_s"},  "frames": {"received", "sent"},
//     "latency_ms": {"window_s", "rx_to_tx": H, "stages": {name: H}, "interstage": {"a->b": H}},
//        H = {"count","mean","p50","p95","p99","max","min","saturated",      (window)
//             "total": {"count","mean","max","p50_bucket","p95_bucket","p99_bucket"}} (since start)
//     "drops": {"total", "rate_per_s", "ratio", "by": [{"stage","reason","count"}]},
//     "queues": {name: depth}, "streams": {name: {"connected", "reconnects"}},
//     "visibility": {"state", "transitions", "seconds": {state: s}, "timeline": [{"t_s","state"}]},
//     "detector": {"detected", "tracked", "tracked_share"|null}   (detector_frames.h; summed
//                 over streams; share null before the first counted frame),
//     "process": {"available", "cpu_percent"|null, "cpu_seconds", "rss_bytes", "threads"},
//     "gpu": {"available", "reason"|absent, "devices": [...]},
//     "health": {"status": "ok"|"degraded", "reasons": [...]},
//     "per_stream": [S...] }   (empty unless Monitor::add_stream was used)
//   With several streams the top level sums frames, fps and drops over them, merges RX->TX over
//   them, and shows the FIRST stream's stages, interstage hops, queues and visibility.
//   S (also /api/v1/streams: {"streams": [S...]}) = {"name", "frames": {"received", "sent"},
//     "fps": {"in", "out"}, "latency_ms": {"rx_to_tx": H, "stages": {..}, "interstage": {..}},
//     "drops": {"total", "by": [...]}, "queues": {..}, "connected", "reconnects",
//     "visibility": {"state", "transitions", "seconds": {..}}, "detector": {"detected",
//     "tracked"}, "last_frame_age_s"|null}
#include <nlohmann/json.hpp>

#include <map>

#include "core/clock.h"
#include "monitor/detector_frames.h"
#include "monitor/monitor.h"

namespace um::monitor {

namespace {

using nlohmann::json;

double ms(int64_t ns) { return static_cast<double>(ns) * 1e-6; }
double ms(double ns) { return ns * 1e-6; }

std::string label(const Labels& labels, const std::string& key) {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return {};
}

json histogram_json(const SeriesSnapshot& s) {
  json j;
  const WindowStats& w = *s.window;
  j["count"] = w.count;
  j["saturated"] = w.saturated;
  if (w.count > 0) {
    j["mean"] = ms(w.mean_ns);
    j["p50"] = ms(w.p50_ns);
    j["p95"] = ms(w.p95_ns);
    j["p99"] = ms(w.p99_ns);
    j["max"] = ms(w.max_ns);
    j["min"] = ms(w.min_ns);
  } else {
    for (const char* k : {"mean", "p50", "p95", "p99", "max", "min"}) j[k] = nullptr;
  }
  const HistogramTotals& t = *s.totals;
  json tj;
  tj["count"] = t.count;
  if (t.count > 0) {
    tj["mean"] = ms(static_cast<double>(t.sum_ns) / static_cast<double>(t.count));
    tj["max"] = ms(t.max_ns);
    tj["p50_bucket"] = ms(t.bucket_quantile_ns(0.50));
    tj["p95_bucket"] = ms(t.bucket_quantile_ns(0.95));
    tj["p99_bucket"] = ms(t.bucket_quantile_ns(0.99));
  }
  j["total"] = tj;
  return j;
}

json process_json(const ProcessStats& p) {
  json j;
  j["available"] = p.available;
  if (!p.available) return j;
  j["cpu_seconds"] = p.cpu_seconds;
  j["cpu_percent"] = p.cpu_percent_valid ? json(p.cpu_percent) : json(nullptr);
  j["rss_bytes"] = p.rss_bytes;
  j["threads"] = p.threads;
  return j;
}

json gpu_json(const GpuStats& g) {
  json j;
  j["available"] = g.available;
  if (!g.available) j["reason"] = g.reason;
  json devs = json::array();
  for (const GpuDevice& d : g.devices) {
    devs.push_back({{"index", d.index},
                    {"name", d.name},
                    {"utilization_pct", d.utilization_pct},
                    {"memory_used_bytes", d.memory_used_bytes},
                    {"memory_total_bytes", d.memory_total_bytes}});
  }
  j["devices"] = devs;
  return j;
}

json health_to_json(const HealthReport& h) {
  return {{"status", h.ok ? "ok" : "degraded"}, {"reasons", h.reasons}};
}

// The per-stream objects (S above) from one collection, in the order the streams were added.
json per_stream_json(const std::vector<const PipelineMetrics*>& streams,
                     const std::vector<FamilySnapshot>& families,
                     const std::optional<SamplePoint>& last, int64_t now_ns) {
  std::map<std::string, json> by_name;
  for (const PipelineMetrics* m : streams) {
    json o;
    o["name"] = m->stream();
    o["frames"] = {{"received", 0}, {"sent", 0}};
    o["latency_ms"] = {{"stages", json::object()}, {"interstage", json::object()}};
    o["drops"] = {{"total", 0}, {"by", json::array()}};
    o["queues"] = json::object();
    o["connected"] = false;
    o["reconnects"] = 0;
    o["detector"] = {{"detected", 0}, {"tracked", 0}};
    by_name[m->stream()] = std::move(o);
  }
  for (const FamilySnapshot& f : families) {
    for (const SeriesSnapshot& s : f.series) {
      auto it = by_name.find(label(s.labels, "stream"));
      if (it == by_name.end()) continue;
      json& o = it->second;
      if (f.name == "um_frames_received_total") {
        o["frames"]["received"] = static_cast<uint64_t>(s.value);
      } else if (f.name == "um_frames_sent_total") {
        o["frames"]["sent"] = static_cast<uint64_t>(s.value);
      } else if (f.name == "um_rx_to_tx_latency_seconds") {
        o["latency_ms"]["rx_to_tx"] = histogram_json(s);
      } else if (f.name == "um_stage_latency_seconds") {
        o["latency_ms"]["stages"][label(s.labels, "stage")] = histogram_json(s);
      } else if (f.name == "um_interstage_latency_seconds") {
        o["latency_ms"]["interstage"][label(s.labels, "from") + "->" + label(s.labels, "to")] =
            histogram_json(s);
      } else if (f.name == "um_drops_total") {
        const auto n = static_cast<uint64_t>(s.value);
        o["drops"]["total"] = o["drops"]["total"].get<uint64_t>() + n;
        o["drops"]["by"].push_back({{"stage", label(s.labels, "stage")},
                                    {"reason", label(s.labels, "reason")},
                                    {"count", n}});
      } else if (f.name == "um_queue_depth") {
        o["queues"][label(s.labels, "queue")] = s.value;
      } else if (f.name == "um_connected") {
        o["connected"] = s.value != 0.0;
      } else if (f.name == "um_reconnects_total") {
        o["reconnects"] = static_cast<uint64_t>(s.value);
      } else if (f.name == "um_visibility_transitions_total") {
        o["visibility"]["transitions"] = static_cast<uint64_t>(s.value);
      } else if (f.name == kDetectorFramesMetric) {
        const std::string mode = label(s.labels, "mode") == "tracked" ? "tracked" : "detected";
        o["detector"][mode] = static_cast<uint64_t>(s.value);
      }
    }
  }
  json out = json::array();
  for (const PipelineMetrics* m : streams) {
    json& o = by_name[m->stream()];
    o["fps"] = {{"in", 0.0}, {"out", 0.0}};
    if (last) {
      for (const StreamSample& ss : last->streams)
        if (ss.name == m->stream()) o["fps"] = {{"in", ss.fps_in}, {"out", ss.fps_out}};
    }
    o["visibility"]["state"] = visibility_state_name(m->visibility());
    json secs = json::object();
    for (int i = 0; i < kVisibilityStateCount; ++i) {
      const auto st = static_cast<VisibilityState>(i);
      secs[visibility_state_name(st)] = m->seconds_in_state(st, now_ns);
    }
    o["visibility"]["seconds"] = secs;
    const int64_t last_rx = m->last_rx_ns();
    o["last_frame_age_s"] =
        last_rx == 0 ? json(nullptr) : json(static_cast<double>(now_ns - last_rx) * 1e-9);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

std::string Monitor::metrics_json(int64_t now_ns) const {
  const std::optional<SamplePoint> last = last_sample();
  const int64_t window_ns = static_cast<int64_t>(options_.percentile_window.count()) * 1'000'000;
  json j;
  j["time_unix_ms"] = wall_clock_ns() / 1'000'000;
  j["uptime_s"] = static_cast<double>(now_ns - started_ns_) * 1e-9;
  j["seq"] = last ? last->seq : 0;
  std::string detail;
  const bool synthetic = synthetic_weights(&detail);
  j["synthetic_weights"] = {{"active", synthetic}, {"detail", detail}};
  j["fps"] = {{"in", last ? last->fps_in : 0.0},
              {"out", last ? last->fps_out : 0.0},
              {"window_s", static_cast<double>(options_.rate_window.count()) * 1e-3}};

  json stages = json::object(), hops = json::object(), drops_by = json::array();
  json queues = json::object(), streams = json::object();
  json latency;
  latency["window_s"] = static_cast<double>(options_.percentile_window.count()) * 1e-3;
  uint64_t drops_total = 0;
  uint64_t detector_ran = 0, detector_tracked = 0;
  uint64_t received = 0, sent = 0;
  // Several streams: the first one's series stand for the top-level stages, hops and queues.
  const std::vector<const PipelineMetrics*> per = this->streams();
  const std::string first = per.empty() ? std::string() : per.front()->stream();
  std::map<std::pair<std::string, std::string>, size_t> drop_index;  // (stage, reason) -> by[i]
  const std::vector<FamilySnapshot> families = registry_.collect(now_ns, window_ns);
  for (const FamilySnapshot& f : families) {
    for (const SeriesSnapshot& s : f.series) {
      const bool primary_series = label(s.labels, "stream") == first;
      if (f.name == "um_frames_received_total") {
        received += static_cast<uint64_t>(s.value);
      } else if (f.name == "um_frames_sent_total") {
        sent += static_cast<uint64_t>(s.value);
      } else if (f.name == "um_stage_latency_seconds") {
        if (primary_series) stages[label(s.labels, "stage")] = histogram_json(s);
      } else if (f.name == "um_interstage_latency_seconds") {
        if (primary_series)
          hops[label(s.labels, "from") + "->" + label(s.labels, "to")] = histogram_json(s);
      } else if (f.name == "um_drops_total") {
        // Summed over the streams per (stage, reason).
        const auto n = static_cast<uint64_t>(s.value);
        drops_total += n;
        const auto key = std::make_pair(label(s.labels, "stage"), label(s.labels, "reason"));
        auto [it, fresh] = drop_index.emplace(key, drops_by.size());
        if (fresh) {
          drops_by.push_back({{"stage", key.first}, {"reason", key.second}, {"count", n}});
        } else {
          drops_by[it->second]["count"] = drops_by[it->second]["count"].get<uint64_t>() + n;
        }
      } else if (f.name == "um_queue_depth") {
        if (primary_series) queues[label(s.labels, "queue")] = s.value;
      } else if (f.name == kDetectorFramesMetric) {
        (label(s.labels, "mode") == "tracked" ? detector_tracked : detector_ran) +=
            static_cast<uint64_t>(s.value);
      } else if (f.name == "um_connected") {
        streams[label(s.labels, "stream")]["connected"] = s.value != 0.0;
      } else if (f.name == "um_reconnects_total") {
        streams[label(s.labels, "stream")]["reconnects"] = static_cast<uint64_t>(s.value);
      }
    }
  }
  j["frames"] = {{"received", received}, {"sent", sent}};
  {
    // RX->TX over every stream (one stream: exactly its own histogram).
    std::vector<const LatencyHistogram*> hs = {&pipeline_.rx_to_tx()};
    for (const PipelineMetrics* m : per) hs.push_back(&m->rx_to_tx());
    SeriesSnapshot merged;
    merged.totals = LatencyHistogram::merged_totals(hs);
    merged.window = LatencyHistogram::merged_window(hs, now_ns, window_ns);
    latency["rx_to_tx"] = histogram_json(merged);
  }
  latency["stages"] = stages;
  latency["interstage"] = hops;
  j["latency_ms"] = latency;
  j["drops"] = {{"total", drops_total},
                {"rate_per_s", last ? last->drop_rate : 0.0},
                {"ratio", last ? last->drop_ratio : 0.0},
                {"by", drops_by}};
  j["queues"] = queues;
  j["streams"] = streams;
  const uint64_t counted = detector_ran + detector_tracked;
  j["detector"] = {{"detected", detector_ran},
                   {"tracked", detector_tracked},
                   {"tracked_share", counted ? json(static_cast<double>(detector_tracked) /
                                                    static_cast<double>(counted))
                                             : json(nullptr)}};

  json vis;
  const PipelineMetrics& shown = primary();
  vis["state"] = visibility_state_name(shown.visibility());
  {
    const Counter* tr = registry_.find_counter(
        "um_visibility_transitions_total",
        first.empty() ? Labels{} : Labels{{"stream", first}});
    vis["transitions"] = tr ? static_cast<double>(tr->value()) : 0.0;
  }
  json secs = json::object();
  for (int i = 0; i < kVisibilityStateCount; ++i) {
    const auto st = static_cast<VisibilityState>(i);
    secs[visibility_state_name(st)] = shown.seconds_in_state(st, now_ns);
  }
  vis["seconds"] = secs;
  json tl = json::array();
  for (const VisibilityChange& c : shown.timeline()) {
    tl.push_back({{"t_s", static_cast<double>(c.at_ns - started_ns_) * 1e-9},
                  {"state", visibility_state_name(c.state)}});
  }
  vis["timeline"] = tl;
  j["visibility"] = vis;

  if (last) {
    j["process"] = process_json(last->process);
    j["gpu"] = gpu_json(last->gpu);
  } else {
    j["process"] = {{"available", false}};
    j["gpu"] = {{"available", false}, {"reason", "not sampled yet"}, {"devices", json::array()}};
  }
  if (auto f = latest_frame()) {
    json fr = {{"frame_id", f->frame_id}, {"width", f->width},   {"height", f->height},
               {"state", visibility_state_name(f->state)},       {"seq", f->seq},
               {"has_mask", !f->mask.empty()},
               {"age_s", static_cast<double>(now_ns - f->at_ns) * 1e-9}};
    fr["score"] = f->score >= 0 ? json(f->score) : json(nullptr);
    fr["box"] = f->box ? json(*f->box) : json(nullptr);
    j["frame"] = fr;
  } else {
    j["frame"] = nullptr;
  }
  j["health"] = health_to_json(health(now_ns));
  j["per_stream"] = per_stream_json(per, families, last, now_ns);
  return j.dump();
}

std::string Monitor::streams_json(int64_t now_ns) const {
  const int64_t window_ns = static_cast<int64_t>(options_.percentile_window.count()) * 1'000'000;
  const std::vector<const PipelineMetrics*> per = streams();
  return json{{"streams", per_stream_json(per, registry_.collect(now_ns, window_ns),
                                          last_sample(), now_ns)}}
      .dump();
}

std::string Monitor::history_json() const {
  json pts = json::array();
  for (const SamplePoint& p : history()) {
    json q;
    q["seq"] = p.seq;
    q["t_s"] = static_cast<double>(p.at_ns - started_ns_) * 1e-9;
    q["time_unix_ms"] = p.wall_ns / 1'000'000;
    q["fps_in"] = p.fps_in;
    q["fps_out"] = p.fps_out;
    q["drop_rate"] = p.drop_rate;
    q["frames_received"] = p.frames_in;
    q["frames_sent"] = p.frames_out;
    q["drops"] = p.drops;
    q["state"] = visibility_state_name(p.state);
    if (p.rx_to_tx.count > 0) {
      q["rx_to_tx_ms"] = {{"p50", ms(p.rx_to_tx.p50_ns)},
                          {"p95", ms(p.rx_to_tx.p95_ns)},
                          {"p99", ms(p.rx_to_tx.p99_ns)},
                          {"max", ms(p.rx_to_tx.max_ns)}};
    } else {
      q["rx_to_tx_ms"] = nullptr;
    }
    q["cpu_percent"] = p.process.cpu_percent_valid ? json(p.process.cpu_percent) : json(nullptr);
    q["rss_bytes"] = p.process.available ? json(p.process.rss_bytes) : json(nullptr);
    pts.push_back(std::move(q));
  }
  return json{{"sample_period_s", static_cast<double>(options_.sample_period.count()) * 1e-3},
              {"points", pts}}
      .dump();
}

std::string Monitor::health_json(int64_t now_ns) const {
  return health_to_json(health(now_ns)).dump();
}

}  // namespace um::monitor
