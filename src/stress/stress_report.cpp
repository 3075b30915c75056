// Stress figures, verdict and reports (stress_report.h).
#include "stress/stress_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

namespace um::stress {
namespace {

using nlohmann::json;

constexpr double kMiB = 1024.0 * 1024.0;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string mib(double bytes) { return fmt("%.1f", bytes / kMiB) + " MiB"; }

std::string pad(const std::string& s, size_t w) {
  return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' ');
}

double percentile(const std::vector<int64_t>& sorted, double q) {
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1]) * 1e-6;
}

std::string fps_label(const RunResult& r) {
  return r.max_rate ? "max (" + fmt("%g", r.simulator_fps) + " fps sent, latest frame wins)"
                    : fmt("%g", r.simulator_fps) + " fps";
}

std::string drops_line(const RunSummary& s, DropClass c) {
  std::string out;
  for (const auto& [key, n] : s.drops) {
    if (n == 0) continue;
    const size_t slash = key.rfind('/');
    const std::string reason = slash == std::string::npos ? "" : key.substr(slash + 1);
    if (classify_drop("", reason) != c) continue;
    out += (out.empty() ? "" : ", ") + key + " " + std::to_string(n);
  }
  return out.empty() ? "" : " (" + out + ")";
}

std::string trend_line(const char* what, const MemoryTrend& m) {
  if (!m.available) return std::string(what) + ": unavailable (" + m.reason + ")\n";
  return std::string(what) + ": start " + mib(m.start) + ", end " + mib(m.end) + ", max " +
         mib(m.max) + ", growth " + fmt("%+.2f", m.growth_pct) + " % (mean of the first " +
         fmt("%.0f", m.window_s) + " s vs the last " + fmt("%.0f", m.window_s) +
         " s after warm-up, " + std::to_string(m.points) + " samples; floor " +
         fmt("%+.2f", m.floor_growth_pct) + " %: window minima " + mib(m.first_floor) + " -> " +
         mib(m.last_floor) + ")\n";
}

json trend_json(const MemoryTrend& m) {
  if (!m.available) return {{"available", false}, {"reason", m.reason}};
  return {{"available", true},           {"start_bytes", m.start},
          {"end_bytes", m.end},          {"max_bytes", m.max},
          {"first_window_mean_bytes", m.first_mean}, {"last_window_mean_bytes", m.last_mean},
          {"window_s", m.window_s},      {"growth_pct", m.growth_pct},
          {"first_window_min_bytes", m.first_floor}, {"last_window_min_bytes", m.last_floor},
          {"floor_growth_pct", m.floor_growth_pct},
          {"points", m.points}};
}

json latency_json(const LatencySummary& l) {
  if (l.count == 0) return {{"count", 0}};
  return {{"count", l.count}, {"mean", l.mean_ms}, {"p50", l.p50_ms},
          {"p90", l.p90_ms},  {"p99", l.p99_ms},   {"max", l.max_ms}};
}

const char* phase(double t, const RunResult& run) {
  return t < run.warmup_s ? "warmup" : t <= run.warmup_s + run.measured_s ? "measured" : "after";
}

std::string opt_csv(const std::optional<double>& v) { return v ? fmt("%.0f", *v) : ""; }

}  // namespace

LatencySummary summarize_latencies(std::vector<int64_t> ns) {
  LatencySummary s;
  s.count = ns.size();
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  s.mean_ms = std::accumulate(ns.begin(), ns.end(), 0.0) / static_cast<double>(ns.size()) * 1e-6;
  s.p50_ms = percentile(ns, 0.50);
  s.p90_ms = percentile(ns, 0.90);
  s.p99_ms = percentile(ns, 0.99);
  s.max_ms = static_cast<double>(ns.back()) * 1e-6;
  return s;
}

MemoryTrend memory_trend(const std::vector<MetricsSample>& series, double from_t, double to_t,
                         std::optional<double> MetricsSample::*field) {
  MemoryTrend m;
  std::vector<std::pair<double, double>> pts;  // (t, value)
  std::string reason;
  for (const MetricsSample& s : series) {
    if (s.t_s < from_t || s.t_s > to_t) continue;
    if (s.*field) pts.emplace_back(s.t_s, *(s.*field));
    else if (field == &MetricsSample::gpu_used_bytes && !s.gpu_reason.empty())
      reason = s.gpu_reason;
  }
  if (pts.empty()) {
    m.reason = reason.empty() ? "no sample in the measured window" : reason;
    return m;
  }
  m.available = true;
  m.points = pts.size();
  m.start = pts.front().second;
  m.end = pts.back().second;
  for (const auto& p : pts) m.max = std::max(m.max, p.second);
  const double span = pts.back().first - pts.front().first;
  m.window_s = std::min(60.0, span / 4.0);
  double first_sum = 0, last_sum = 0;
  int first_n = 0, last_n = 0;
  m.first_floor = m.last_floor = m.max;
  for (const auto& [t, v] : pts) {
    if (t <= pts.front().first + m.window_s) {
      first_sum += v, ++first_n;
      m.first_floor = std::min(m.first_floor, v);
    }
    if (t >= pts.back().first - m.window_s) {
      last_sum += v, ++last_n;
      m.last_floor = std::min(m.last_floor, v);
    }
  }
  m.first_mean = first_sum / first_n;
  m.last_mean = last_sum / last_n;
  auto pct = [](double a, double b) { return a > 0 ? (b - a) / a * 100.0 : 0.0; };
  m.growth_pct = pct(m.first_mean, m.last_mean);
  m.floor_growth_pct = pct(m.first_floor, m.last_floor);
  return m;
}

RunSummary summarize(const RunResult& run, const StressOptions& o) {
  RunSummary s;
  s.n_streams = run.n_streams;
  s.measured_s = run.measured_s;
  auto fail = [&s](std::string why) {
    s.pass = false;
    s.failures.push_back(std::move(why));
  };
  if (!run.started) {
    fail("the gateway did not start: " + run.start_failure.substr(0, run.start_failure.find('\n')));
    return s;
  }
  for (const StreamResult& sr : run.streams) {
    StreamSummary ss;
    ss.name = sr.name;
    ss.frames_sent = run.measured_s > 0 ? sr.frames_sent : 0;
    ss.labelmaps = sr.latencies_ns.size();
    ss.latency = summarize_latencies(sr.latencies_ns);
    if (run.measured_s > 0) {
      ss.labelmaps_per_s = static_cast<double>(ss.labelmaps) / run.measured_s;
      ss.sent_per_s = static_cast<double>(ss.frames_sent) / run.measured_s;
    }
    s.total_fps += ss.labelmaps_per_s;
    s.sent_fps += ss.sent_per_s;
    if (ss.labelmaps == 0) fail("stream " + sr.name + " received no labelmap in the measured window");
    if (sr.receiver_rejected > 0)
      fail("the gateway sent " + std::to_string(sr.receiver_rejected) +
           " malformed message(s) to " + sr.name);
    s.streams.push_back(std::move(ss));
  }
  const MetricsSample* last = nullptr;
  for (const MetricsSample& m : run.series)
    if (m.dashboard_ok) last = &m;
  if (!last) {
    fail("the dashboard never answered (no memory or drop figures)");
  } else {
    s.drops = last->drops;
    s.drops_policy = last->drops_of(DropClass::kPolicy);
    s.drops_malformed = last->drops_of(DropClass::kMalformed);
    s.drops_other = last->drops_of(DropClass::kOther);
  }
  const double from = run.warmup_s, to = run.warmup_s + run.measured_s;
  s.rss = memory_trend(run.series, from, to, &MetricsSample::rss_bytes);
  s.gpu = memory_trend(run.series, from, to, &MetricsSample::gpu_used_bytes);
  double cpu_sum = 0;
  int cpu_n = 0;
  for (const MetricsSample& m : run.series)
    if (m.t_s >= from && m.t_s <= to && m.cpu_percent) cpu_sum += *m.cpu_percent, ++cpu_n;
  if (cpu_n > 0) s.cpu_mean_percent = cpu_sum / cpu_n;
  s.faults_injected = run.faults.size();
  for (const FaultRecord& f : run.faults) {
    if (f.recovered) ++s.faults_recovered;
    else
      fail("no fresh labelmap on " + stream_name(static_cast<size_t>(f.stream)) + " within " +
           fmt("%g", o.fault_timeout_s) + " s after fault " + fault_kind_name(f.kind) + " at t=" +
           fmt("%.1f", f.t_s) + " s");
  }

  if (run.died)
    fail("the gateway died at t=" + fmt("%.1f", run.died_at_s) + " s (exit status " +
         std::to_string(run.exit_code) + "; log " + run.gateway_log + ")");
  else if (run.exit_code != 0)
    fail("the gateway exited with status " + std::to_string(run.exit_code) +
         " after SIGINT (stage errors? log " + run.gateway_log + ")");
  if (s.drops_other > 0)
    fail(std::to_string(s.drops_other) + " non-policy drop(s)" + drops_line(s, DropClass::kOther));
  if (s.drops_malformed > 0 && !o.faults)
    fail(std::to_string(s.drops_malformed) + " malformed-message drop(s) without --faults" +
         drops_line(s, DropClass::kMalformed));
  if (o.max_growth_pct >= 0) {
    // A leak raises both the mean and the floor; per-frame swings move one of them at most.
    auto grew = [&](const char* what, const MemoryTrend& m) {
      if (!m.available || std::min(m.growth_pct, m.floor_growth_pct) <= o.max_growth_pct) return;
      fail(std::string(what) + " grew " + fmt("%.2f", m.growth_pct) + " % (mean), " +
           fmt("%.2f", m.floor_growth_pct) + " % (floor): both > " + fmt("%g", o.max_growth_pct) +
           " %");
    };
    grew("RSS", s.rss);
    grew("GPU memory", s.gpu);
  }
  return s;
}

std::string format_run(const RunResult& run, const RunSummary& s, const StressOptions& o) {
  std::ostringstream out;
  out << "== ultramotion stress: " << run.n_streams << " stream(s), " << fps_label(run) << " each, "
      << o.backend << " " << o.precision << ", measured " << fmt("%.1f", run.measured_s)
      << " s after " << fmt("%.1f", run.warmup_s) << " s warm-up ==\n";
  if (!run.started) {
    out << run.start_failure << "\n";
  } else {
    out << "gateway: " << run.gateway_command << " (ready after " << fmt("%.1f", run.startup_s)
        << " s; log " << run.gateway_log << ")\n";
    out << pad("stream", 8) << pad("sent", 9) << pad("sent/s", 9) << pad("labelmaps", 10)
        << pad("lm/s", 9) << pad("p50 ms", 9) << pad("p90 ms", 9) << pad("p99 ms", 9)
        << "max ms\n";
    for (const StreamSummary& ss : s.streams) {
      const LatencySummary& l = ss.latency;
      out << pad(ss.name, 8) << pad(std::to_string(ss.frames_sent), 9)
          << pad(fmt("%.2f", ss.sent_per_s), 9) << pad(std::to_string(ss.labelmaps), 10)
          << pad(fmt("%.2f", ss.labelmaps_per_s), 9)
          << pad(l.count ? fmt("%.1f", l.p50_ms) : "-", 9)
          << pad(l.count ? fmt("%.1f", l.p90_ms) : "-", 9)
          << pad(l.count ? fmt("%.1f", l.p99_ms) : "-", 9) << (l.count ? fmt("%.1f", l.max_ms) : "-")
          << "\n";
    }
    out << "total: " << fmt("%.2f", s.total_fps) << " labelmaps/s (frames/s out), "
        << fmt("%.2f", s.sent_fps) << " frames/s sent\n";
    out << "latency = labelmap receive time - frame acquisition time (header timestamp), UTC\n";
    out << "drops since gateway start: policy " << s.drops_policy << drops_line(s, DropClass::kPolicy)
        << "; malformed " << s.drops_malformed << drops_line(s, DropClass::kMalformed) << "; other "
        << s.drops_other << drops_line(s, DropClass::kOther) << "\n";
    out << trend_line("gateway RSS", s.rss) << trend_line("GPU memory (NVML used)", s.gpu);
    out << "gateway CPU: "
        << (s.cpu_mean_percent ? fmt("%.0f", *s.cpu_mean_percent) + " % of one core (mean)"
                               : std::string("unavailable"))
        << "\n";
    if (o.faults) {
      out << "faults: " << s.faults_injected << " injected, " << s.faults_recovered
          << " recovered\n";
      for (const FaultRecord& f : run.faults) {
        out << "  t=" << fmt("%6.1f", f.t_s) << " s  " << stream_name(static_cast<size_t>(f.stream)) << "  "
            << pad(fault_kind_name(f.kind), 19)
            << (f.recovered ? "recovered in " + fmt("%.2f", f.recovery_s) + " s"
                            : std::string("NOT recovered"));
        std::string d;
        for (const auto& [k, n] : f.new_drops) d += (d.empty() ? "" : ", ") + k + " +" + std::to_string(n);
        out << (d.empty() ? "" : "; drops " + d) << "\n";
      }
    }
  }
  out << "verdict: " << (s.pass ? "PASS" : "FAIL") << "\n";
  for (const std::string& f : s.failures) out << "  - " << f << "\n";
  return out.str();
}

std::string format_side_by_side(const std::vector<RunSummary>& runs) {
  std::ostringstream out;
  constexpr size_t kLabel = 34, kCol = 12;
  auto row = [&](const std::string& label, auto cell) {
    out << pad(label, kLabel);
    for (const RunSummary& s : runs) out << pad(cell(s), kCol);
    out << "\n";
  };
  auto worst = [](const RunSummary& s, double LatencySummary::*f) {
    double w = 0;
    for (const auto& ss : s.streams) w = std::max(w, ss.latency.*f);
    return w;
  };
  auto median_of = [](const RunSummary& s, double LatencySummary::*f) {
    std::vector<double> v;
    for (const auto& ss : s.streams)
      if (ss.latency.count) v.push_back(ss.latency.*f);
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
  };
  out << "== side by side (same invocation; each column a fresh gateway) ==\n";
  row("streams", [](const RunSummary& s) { return std::to_string(s.n_streams); });
  row("total frames/s (labelmaps)", [](const RunSummary& s) { return fmt("%.2f", s.total_fps); });
  row("frames/s per stream (mean)", [](const RunSummary& s) {
    return fmt("%.2f", s.n_streams ? s.total_fps / s.n_streams : 0.0);
  });
  row("speed-up vs 1 stream", [&](const RunSummary& s) {
    const RunSummary* one = nullptr;
    for (const auto& r : runs)
      if (r.n_streams == 1) one = &r;
    return one && one->total_fps > 0 ? fmt("%.2fx", s.total_fps / one->total_fps) : std::string("-");
  });
  row("per-stream p50 ms (median stream)",
      [&](const RunSummary& s) { return fmt("%.1f", median_of(s, &LatencySummary::p50_ms)); });
  row("per-stream p99 ms (median stream)",
      [&](const RunSummary& s) { return fmt("%.1f", median_of(s, &LatencySummary::p99_ms)); });
  row("per-stream p99 ms (worst stream)",
      [&](const RunSummary& s) { return fmt("%.1f", worst(s, &LatencySummary::p99_ms)); });
  row("max latency ms", [&](const RunSummary& s) { return fmt("%.1f", worst(s, &LatencySummary::max_ms)); });
  row("drops policy / other", [](const RunSummary& s) {
    return std::to_string(s.drops_policy) + " / " + std::to_string(s.drops_other);
  });
  row("RSS growth %", [](const RunSummary& s) {
    return s.rss.available ? fmt("%+.2f", s.rss.growth_pct) : std::string("n/a");
  });
  row("GPU memory growth %", [](const RunSummary& s) {
    return s.gpu.available ? fmt("%+.2f", s.gpu.growth_pct) : std::string("n/a");
  });
  row("verdict", [](const RunSummary& s) { return std::string(s.pass ? "PASS" : "FAIL"); });
  return out.str();
}

json report_json(const StressOptions& o, const std::vector<RunResult>& runs,
                 const std::vector<RunSummary>& summaries) {
  json j;
  j["options"] = {{"streams", o.stream_counts},
                  {"fps", o.fps.max ? json("max") : json(o.fps.fps)},
                  {"max_fps", o.max_fps},
                  {"duration_s", o.duration_s},
                  {"warmup_s", o.warmup_s},
                  {"faults", o.faults},
                  {"backend", o.backend},
                  {"precision", o.precision},
                  {"dfine", o.dfine},
                  {"sam", o.sam},
                  {"allow_synthetic", o.allow_synthetic},
                  {"frame_size", {o.frame_size.height, o.frame_size.width}},
                  {"max_growth_pct", o.max_growth_pct}};
  j["growth_definition"] =
      "(mean of the last window - mean of the first window) / mean of the first window * 100 "
      "over the samples after warm-up; window = min(60 s, measured span / 4)";
  j["latency_definition"] = "labelmap receive time - labelmap header timestamp (frame "
                            "acquisition time), both this machine's UTC clock";
  json jr = json::array();
  bool pass = true;
  for (size_t r = 0; r < runs.size(); ++r) {
    const RunResult& run = runs[r];
    const RunSummary& s = summaries[r];
    pass = pass && s.pass;
    json x;
    x["streams"] = run.n_streams;
    x["started"] = run.started;
    if (!run.started) x["start_failure"] = run.start_failure;
    x["gateway"] = {{"command", run.gateway_command}, {"config", run.config_path},
                    {"log", run.gateway_log},         {"startup_s", run.startup_s},
                    {"died", run.died},               {"exit_code", run.exit_code}};
    if (run.died) x["gateway"]["died_at_s"] = run.died_at_s;
    x["simulator_fps"] = run.simulator_fps;
    x["warmup_s"] = run.warmup_s;
    x["measured_s"] = run.measured_s;
    x["total_fps"] = s.total_fps;
    x["sent_fps"] = s.sent_fps;
    json st = json::array();
    for (size_t i = 0; i < s.streams.size(); ++i) {
      const StreamSummary& ss = s.streams[i];
      const StreamResult& sr = run.streams[i];
      st.push_back({{"name", ss.name},
                    {"plus_port", sr.plus_port},
                    {"slicer_port", sr.slicer_port},
                    {"frames_sent", ss.frames_sent},
                    {"frames_sent_total", sr.frames_sent_total},
                    {"labelmaps", ss.labelmaps},
                    {"labelmaps_total", sr.labelmaps_total},
                    {"labelmaps_per_s", ss.labelmaps_per_s},
                    {"sent_per_s", ss.sent_per_s},
                    {"latency_ms", latency_json(ss.latency)},
                    {"receiver_connects", sr.receiver_connects},
                    {"receiver_rejected", sr.receiver_rejected},
                    {"simulator_restarts", sr.simulator_restarts}});
    }
    x["per_stream"] = st;
    json drops = json::array();
    for (const auto& [key, n] : s.drops) {
      const size_t slash = key.rfind('/');
      drops.push_back({{"key", key},
                       {"count", n},
                       {"class", drop_class_name(classify_drop(
                                     "", slash == std::string::npos ? "" : key.substr(slash + 1)))}});
    }
    x["drops"] = {{"policy", s.drops_policy},
                  {"malformed", s.drops_malformed},
                  {"other", s.drops_other},
                  {"by", drops}};
    x["rss"] = trend_json(s.rss);
    x["gpu_memory"] = trend_json(s.gpu);
    x["cpu_mean_percent"] = s.cpu_mean_percent ? json(*s.cpu_mean_percent) : json(nullptr);
    json faults = json::array();
    for (const FaultRecord& f : run.faults)
      faults.push_back({{"t_s", f.t_s},
                        {"kind", fault_kind_name(f.kind)},
                        {"stream", stream_name(static_cast<size_t>(f.stream))},
                        {"recovered", f.recovered},
                        {"recovery_s", f.recovered ? json(f.recovery_s) : json(nullptr)},
                        {"new_drops", f.new_drops}});
    x["faults"] = faults;
    json series = json::array();
    for (const MetricsSample& m : run.series) {
      json p = {{"t_s", m.t_s},
                {"phase", phase(m.t_s, run)},
                {"alive", m.gateway_alive},
                {"dashboard_ok", m.dashboard_ok},
                {"rss_bytes", m.rss_bytes ? json(*m.rss_bytes) : json(nullptr)},
                {"cpu_percent", m.cpu_percent ? json(*m.cpu_percent) : json(nullptr)},
                {"gpu_used_bytes", m.gpu_used_bytes ? json(*m.gpu_used_bytes) : json(nullptr)},
                {"frames_received", m.frames_received},
                {"frames_sent", m.frames_sent},
                {"fps_out", m.fps_out},
                {"labelmaps", m.labelmaps},
                {"drops", m.drops}};
      series.push_back(std::move(p));
    }
    x["series"] = series;
    x["verdict"] = {{"pass", s.pass}, {"failures", s.failures}};
    jr.push_back(std::move(x));
  }
  j["runs"] = jr;
  j["pass"] = pass;
  return j;
}

std::string series_csv(const std::vector<RunResult>& runs) {
  std::ostringstream out;
  out << "streams,t_s,phase,alive,dashboard_ok,rss_bytes,cpu_percent,gpu_used_bytes,"
         "frames_received,frames_sent,fps_out,labelmaps,drops_policy,drops_malformed,drops_other\n";
  for (const RunResult& run : runs) {
    for (const MetricsSample& m : run.series) {
      out << run.n_streams << "," << fmt("%.3f", m.t_s) << "," << phase(m.t_s, run) << ","
          << (m.gateway_alive ? 1 : 0) << "," << (m.dashboard_ok ? 1 : 0) << ","
          << opt_csv(m.rss_bytes) << ","
          << (m.cpu_percent ? fmt("%.1f", *m.cpu_percent) : std::string()) << ","
          << opt_csv(m.gpu_used_bytes) << "," << m.frames_received << "," << m.frames_sent << ","
          << fmt("%.2f", m.fps_out) << "," << m.labelmaps << ","
          << m.drops_of(DropClass::kPolicy) << "," << m.drops_of(DropClass::kMalformed) << ","
          << m.drops_of(DropClass::kOther) << "\n";
    }
  }
  return out.str();
}

}  // namespace um::stress
