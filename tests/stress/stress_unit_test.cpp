// Unit tests of src/stress: argument parsing, the generated gateway config, malformed-message
// builders (checked by our own stream reader), drop classes, metrics parsing, percentiles, memory
// trends and the verdict. No gateway runs here (stress_cli_test does that).
#include <gtest/gtest.h>

#include <set>

#include "gateway/config.h"
#include "igtl/stream_reader.h"
#include "stress/faults.h"
#include "stress/gateway_metrics.h"
#include "stress/stress_options.h"
#include "stress/stress_report.h"

namespace um::stress {
namespace {

TEST(StressOptions, ParsesStreamCountLists) {
  auto c = parse_stream_counts("1,2, 4,8");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(*c, (std::vector<int>{1, 2, 4, 8}));
  for (const char* bad : {"", "0", "1,1", "two", "1.5", "65", "1,,2"}) {
    auto r = parse_stream_counts(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("--streams"), std::string::npos);
    }
  }
}

TEST(StressOptions, ParsesFps) {
  auto m = parse_fps("max");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->max);
  auto f = parse_fps("12.5");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->max);
  EXPECT_DOUBLE_EQ(f->fps, 12.5);
  for (const char* bad : {"0", "-3", "1001", "fast", ""}) EXPECT_FALSE(parse_fps(bad).ok()) << bad;
}

TEST(StressOptions, ReportsEveryBadOption) {
  StressOptions o;
  o.backend = "tpu";
  o.precision = "int8";
  o.duration_s = 0;
  o.config_format = "legacy";
  o.stream_counts = {1, 2};
  o.gateway_set = {"novalue"};
  o.min_faults = -1;
  const std::vector<std::string> e = option_errors(o);
  auto has = [&](const std::string& s) {
    for (const auto& x : e)
      if (x.find(s) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("--backend")) << e.size();
  EXPECT_TRUE(has("--precision"));
  EXPECT_TRUE(has("--duration"));
  EXPECT_TRUE(has("legacy holds one stream"));
  EXPECT_TRUE(has("--gateway-set"));
  EXPECT_TRUE(has("--min-faults must be >= 0"));
  EXPECT_TRUE(option_errors(StressOptions{}).empty());
  StressOptions min_without_faults;
  min_without_faults.min_faults = 3;
  EXPECT_EQ(option_errors(min_without_faults),
            std::vector<std::string>{"--min-faults needs --faults"});
  min_without_faults.faults = true;
  EXPECT_TRUE(option_errors(min_without_faults).empty());
}

TEST(StressOptions, FaultIntervalAutoIsClamped) {
  StressOptions o;
  o.duration_s = 7;
  EXPECT_DOUBLE_EQ(fault_interval(o), 2.0);
  o.duration_s = 1800;
  EXPECT_DOUBLE_EQ(fault_interval(o), 60.0);
  o.fault_interval_s = 5;
  EXPECT_DOUBLE_EQ(fault_interval(o), 5.0);
}

TEST(StressConfig, SingleStreamConfigIsAValidGatewayConfig) {
  StressOptions o;
  o.backend = "cpu";
  o.dfine = "/models/d fine: #1.pth";  // quoting: spaces, ':' and '#'
  o.allow_synthetic = true;
  const std::string yaml = gateway_config_yaml(o, {{"s1", 41001, 41002}}, 41003);
  gateway::GatewayConfig cfg;
  Status s = gateway::parse_config_yaml(yaml, &cfg, "stress");
  ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << yaml;
  EXPECT_EQ(cfg.plus.port, 41001);
  EXPECT_EQ(cfg.plus.device, "Image_Reference");
  EXPECT_EQ(cfg.slicer.port, 41002);
  EXPECT_EQ(cfg.dashboard.port, 41003);
  EXPECT_TRUE(cfg.dashboard.enabled);
  EXPECT_EQ(cfg.models.dfine, o.dfine);
  EXPECT_TRUE(cfg.models.allow_synthetic);
  EXPECT_TRUE(gateway::config_errors(cfg).empty() ||
              gateway::config_errors(cfg).front().find("port") == std::string::npos);
}

TEST(StressConfig, SeveralStreamsUseTheStreamsFormat) {
  StressOptions o;
  o.max_batch = 4;
  const std::string yaml =
      gateway_config_yaml(o, {{"s1", 1001, 1002}, {"s2", 1003, 1004}}, 1005);
  EXPECT_NE(yaml.find("streams:\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("- {name: s2, plus: {host: 127.0.0.1, port: 1003"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("slicer: {port: 1004, device: BoneMask}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("batching: {max_batch: 4, max_wait_ms: 2, overlap: true}"),
            std::string::npos)
      << yaml;
  EXPECT_EQ(yaml.find("\nplus:"), std::string::npos) << yaml;
  o.config_format = "streams";
  EXPECT_TRUE(uses_streams_format(o, 1));
}

// Each malformed message is refused by our own reader for the intended reason.
TEST(StressFaults, MalformedBytesAreRejectedForTheIntendedReason) {
  struct Case {
    FaultKind kind;
    igtl::RejectReason reason;
    bool closes;
  };
  for (const Case& c : {Case{FaultKind::kBadCrc, igtl::RejectReason::kBadCrc, false},
                        Case{FaultKind::kBadHeader, igtl::RejectReason::kBadHeader, true},
                        Case{FaultKind::kAbsurdSize, igtl::RejectReason::kBodyTooLarge, true}}) {
    const std::vector<uint8_t> b = malformed_bytes(c.kind, "Image_Reference");
    ASSERT_FALSE(b.empty()) << fault_kind_name(c.kind);
    igtl::StreamReader reader;
    reader.feed(b.data(), b.size());
    igtl::Message m;
    const igtl::ReadOutcome o = reader.next(m);
    EXPECT_EQ(o.state, igtl::ReadState::kRejected) << fault_kind_name(c.kind);
    EXPECT_EQ(o.reason, c.reason) << fault_kind_name(c.kind) << ": " << o.status.to_string();
    EXPECT_EQ(o.close_connection, c.closes) << fault_kind_name(c.kind);
  }
  const std::vector<uint8_t> t = malformed_bytes(FaultKind::kTruncatedBody, "Image_Reference");
  igtl::StreamReader reader;
  reader.feed(t.data(), t.size());
  igtl::Message m;
  EXPECT_EQ(reader.next(m).state, igtl::ReadState::kNeedMore);  // half a body: waits for more
  EXPECT_EQ(reader.finish().reason, igtl::RejectReason::kTruncated);
  EXPECT_TRUE(malformed_bytes(FaultKind::kSimulatorRestart, "x").empty());
}

TEST(StressFaults, RotationVisitsEveryKind) {
  std::set<FaultKind> seen;
  for (size_t k = 0; k < static_cast<size_t>(FaultKind::kCount); ++k)
    seen.insert(fault_in_rotation(k));
  EXPECT_EQ(seen.size(), static_cast<size_t>(FaultKind::kCount));
  EXPECT_EQ(fault_in_rotation(static_cast<size_t>(FaultKind::kCount)), fault_in_rotation(0));
}

TEST(StressMetrics, ClassifiesDrops) {
  EXPECT_EQ(classify_drop("rx_slot", "superseded"), DropClass::kPolicy);
  EXPECT_EQ(classify_drop("outbox", "evicted_oldest"), DropClass::kPolicy);
  EXPECT_EQ(classify_drop("rx", "burst_superseded"), DropClass::kPolicy);
  EXPECT_EQ(classify_drop("process", "stale"), DropClass::kPolicy);
  EXPECT_EQ(classify_drop("rx", "malformed_bad_crc"), DropClass::kMalformed);
  EXPECT_EQ(classify_drop("process", "error"), DropClass::kOther);
  EXPECT_EQ(classify_drop("tx", "client_queue_full"), DropClass::kOther);
  EXPECT_EQ(classify_drop("rx", "bad_image"), DropClass::kOther);
}

TEST(StressMetrics, ParsesTheDashboardJson) {
  const std::string text = R"({
    "frames": {"received": 120, "sent": 100}, "fps": {"in": 5, "out": 4.5},
    "drops": {"total": 9, "by": [
      {"stage": "rx_slot", "reason": "superseded", "count": 5},
      {"stage": "rx", "reason": "malformed_bad_crc", "count": 1},
      {"stage": "process", "reason": "error", "count": 3},
      {"stage": "process", "reason": "stale", "count": 0}]},
    "process": {"available": true, "cpu_percent": 150.5, "rss_bytes": 734003200, "threads": 9},
    "gpu": {"available": false, "reason": "NVML not found", "devices": []},
    "health": {"status": "ok", "reasons": []}})";
  auto s = parse_metrics_json(text);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_TRUE(s->dashboard_ok);
  EXPECT_EQ(s->frames_received, 120u);
  EXPECT_EQ(s->frames_sent, 100u);
  EXPECT_DOUBLE_EQ(s->fps_out, 4.5);
  ASSERT_TRUE(s->rss_bytes.has_value());
  EXPECT_DOUBLE_EQ(*s->rss_bytes, 734003200.0);
  ASSERT_TRUE(s->cpu_percent.has_value());
  EXPECT_FALSE(s->gpu_used_bytes.has_value());  // unavailable stays unavailable
  EXPECT_EQ(s->gpu_reason, "NVML not found");
  EXPECT_EQ(s->drops_of(DropClass::kPolicy), 5u);
  EXPECT_EQ(s->drops_of(DropClass::kMalformed), 1u);
  EXPECT_EQ(s->drops_of(DropClass::kOther), 3u);
  EXPECT_EQ(s->health, "ok");

  auto g = parse_metrics_json(
      R"({"gpu": {"available": true, "devices": [{"memory_used_bytes": 1000},
                                                 {"memory_used_bytes": 24}]}})");
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->gpu_used_bytes.has_value());
  EXPECT_DOUBLE_EQ(*g->gpu_used_bytes, 1024.0);
  EXPECT_FALSE(g->rss_bytes.has_value());
  EXPECT_FALSE(parse_metrics_json("not json").ok());
  EXPECT_FALSE(parse_metrics_json("[1,2]").ok());
}

TEST(StressReport, NearestRankPercentiles) {
  std::vector<int64_t> ns;
  for (int i = 100; i >= 1; --i) ns.push_back(int64_t{i} * 1'000'000);  // 1..100 ms, shuffled order
  const LatencySummary s = summarize_latencies(ns);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.p50_ms, 50.0);
  EXPECT_DOUBLE_EQ(s.p90_ms, 90.0);
  EXPECT_DOUBLE_EQ(s.p99_ms, 99.0);
  EXPECT_DOUBLE_EQ(s.max_ms, 100.0);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
  EXPECT_EQ(summarize_latencies({}).count, 0u);
  EXPECT_DOUBLE_EQ(summarize_latencies({7'000'000}).p99_ms, 7.0);
}

std::vector<MetricsSample> series(double (*rss_at)(double), double t_end) {
  std::vector<MetricsSample> v;
  for (double t = 0; t <= t_end; t += 1.0) {
    MetricsSample s;
    s.t_s = t;
    s.dashboard_ok = true;
    s.rss_bytes = rss_at(t);
    s.gpu_reason = "NVML not found";
    v.push_back(s);
  }
  return v;
}

TEST(StressReport, MemoryTrendComparesFirstAndLastWindows) {
  // Warm-up allocation (t < 10) is excluded; afterwards flat with one spike.
  auto flat = series([](double t) { return t < 10 ? 1e8 : (t == 50 ? 3e8 : 2e8); }, 130);
  const MemoryTrend m = memory_trend(flat, 10, 130, &MetricsSample::rss_bytes);
  ASSERT_TRUE(m.available);
  EXPECT_DOUBLE_EQ(m.window_s, 30.0);  // min(60, 120 / 4)
  EXPECT_DOUBLE_EQ(m.start, 2e8);
  EXPECT_DOUBLE_EQ(m.max, 3e8);
  EXPECT_NEAR(m.growth_pct, 0.0, 1e-9);
  EXPECT_NEAR(m.floor_growth_pct, 0.0, 1e-9);
  // 1 MB per second on 100 MB: the last 60 s average 100+... vs the first: clearly growing.
  auto leak = series([](double t) { return 1e8 + 1e6 * t; }, 400);
  const MemoryTrend l = memory_trend(leak, 0, 400, &MetricsSample::rss_bytes);
  EXPECT_DOUBLE_EQ(l.window_s, 60.0);
  EXPECT_NEAR(l.growth_pct, (1e6 * 370 - 1e6 * 30) / (1e8 + 1e6 * 30) * 100, 1e-6);
  EXPECT_NEAR(l.floor_growth_pct, (1e6 * 340) / 1e8 * 100, 1e-6);  // minima at t=0 and t=340
  // Per-frame swings (a high sample every third second) move the floor not at all.
  auto swings = series([](double t) { return static_cast<int>(t) % 3 == 0 ? 3e8 : 2e8; }, 240);
  const MemoryTrend w = memory_trend(swings, 0, 240, &MetricsSample::rss_bytes);
  EXPECT_DOUBLE_EQ(w.floor_growth_pct, 0.0);
  EXPECT_DOUBLE_EQ(w.first_floor, 2e8);
  const MemoryTrend g = memory_trend(leak, 0, 400, &MetricsSample::gpu_used_bytes);
  EXPECT_FALSE(g.available);
  EXPECT_EQ(g.reason, "NVML not found");
}

RunResult healthy_run() {
  RunResult r;
  r.n_streams = 1;
  r.started = true;
  r.exit_code = 0;
  r.warmup_s = 2;
  r.measured_s = 10;
  StreamResult s;
  s.name = "s1";
  s.frames_sent = 20;
  s.latencies_ns = {300'000'000, 400'000'000};
  r.streams.push_back(s);
  MetricsSample m;
  m.t_s = 12;
  m.dashboard_ok = true;
  m.rss_bytes = 1e9;
  m.drops["rx_slot/superseded"] = 4;
  r.series.push_back(m);
  return r;
}

TEST(StressReport, VerdictPassesWithPolicyDropsOnly) {
  StressOptions o;
  o.warmup_s = 2;
  const RunSummary s = summarize(healthy_run(), o);
  EXPECT_TRUE(s.pass) << (s.failures.empty() ? "" : s.failures.front());
  EXPECT_EQ(s.drops_policy, 4u);
  EXPECT_DOUBLE_EQ(s.total_fps, 0.2);
  EXPECT_DOUBLE_EQ(s.streams[0].latency.p50_ms, 300.0);
  const std::string text = format_run(healthy_run(), s, o);
  EXPECT_NE(text.find("verdict: PASS"), std::string::npos) << text;
  EXPECT_NE(text.find("rx_slot/superseded 4"), std::string::npos) << text;
}

TEST(StressReport, VerdictFailsOnDeathErrorsDropsAndGrowth) {
  StressOptions o;
  o.warmup_s = 2;
  auto fails_with = [&](RunResult r, const std::string& what, const StressOptions& opt) {
    const RunSummary s = summarize(r, opt);
    EXPECT_FALSE(s.pass) << what;
    bool found = false;
    for (const auto& f : s.failures) found = found || f.find(what) != std::string::npos;
    EXPECT_TRUE(found) << "no failure mentioning '" << what << "'";
  };
  RunResult died = healthy_run();
  died.died = true;
  died.exit_code = 134;
  fails_with(died, "died", o);
  RunResult nonzero = healthy_run();
  nonzero.exit_code = 1;
  fails_with(nonzero, "exited with status 1", o);
  RunResult err = healthy_run();
  err.series[0].drops["process/error"] = 2;
  fails_with(err, "non-policy", o);
  RunResult malformed = healthy_run();
  malformed.series[0].drops["rx/malformed_bad_crc"] = 1;
  fails_with(malformed, "without --faults", o);
  StressOptions with_faults = o;
  with_faults.faults = true;
  EXPECT_TRUE(summarize(malformed, with_faults).pass);  // expected while injecting
  RunResult silent = healthy_run();
  silent.streams[0].latencies_ns.clear();
  fails_with(silent, "no labelmap", o);
  RunResult unrecovered = healthy_run();
  FaultRecord f;
  f.kind = FaultKind::kSimulatorRestart;
  unrecovered.faults.push_back(f);
  fails_with(unrecovered, "simulator_restart", with_faults);
  RunResult grows = healthy_run();
  grows.series.clear();
  for (int t = 2; t <= 12; ++t) {
    MetricsSample m;
    m.t_s = t;
    m.dashboard_ok = true;
    m.rss_bytes = 1e9 * (1 + 0.01 * t);
    grows.series.push_back(m);
  }
  StressOptions strict = o;
  strict.max_growth_pct = 1.0;
  fails_with(grows, "RSS grew", strict);
  // Swings within frames raise the mean of the last window, not its floor: no leak.
  RunResult swings = healthy_run();
  swings.series.clear();
  for (int t = 2; t <= 12; ++t) {
    MetricsSample m;
    m.t_s = t;
    m.dashboard_ok = true;
    m.rss_bytes = t >= 10 && t % 2 == 0 ? 1.5e9 : 1e9;
    swings.series.push_back(m);
  }
  const RunSummary sw = summarize(swings, strict);
  EXPECT_GT(sw.rss.growth_pct, 1.0);
  EXPECT_DOUBLE_EQ(sw.rss.floor_growth_pct, 0.0);
  EXPECT_TRUE(sw.pass) << (sw.failures.empty() ? "" : sw.failures.front());
  RunResult not_started;
  not_started.start_failure = "the gateway exited with code 2 during start-up\nlog...";
  fails_with(not_started, "did not start", o);
}

TEST(StressReport, JsonAndCsvCarryTheFigures) {
  StressOptions o;
  o.warmup_s = 2;
  const RunResult r = healthy_run();
  const RunSummary s = summarize(r, o);
  const nlohmann::json j = report_json(o, {r}, {s});
  EXPECT_TRUE(j["pass"].get<bool>());
  EXPECT_EQ(j["runs"][0]["per_stream"][0]["latency_ms"]["p50"].get<double>(), 300.0);
  EXPECT_EQ(j["runs"][0]["drops"]["policy"].get<uint64_t>(), 4u);
  EXPECT_EQ(j["runs"][0]["series"].size(), 1u);
  const std::string csv = series_csv({r});
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "streams,t_s,phase,alive,dashboard_ok,rss_bytes,cpu_percent,gpu_used_bytes,"
            "frames_received,frames_sent,fps_out,labelmaps,drops_policy,drops_malformed,"
            "drops_other");
  EXPECT_NE(csv.find("\n1,12.000,measured,1,1,1000000000,,,0,0,0.00,0,4,0,0\n"), std::string::npos)
      << csv;
  const std::string side = format_side_by_side({s, s});
  EXPECT_NE(side.find("total frames/s (labelmaps)"), std::string::npos) << side;
}

}  // namespace
}  // namespace um::stress
