// File: apps/ultramotion/cmd_stress.cpp
// Purpose: `ultramotion stress --streams N[,N...] --fps F|max --duration S [--faults]`: drives
// PLUS simulators and Slicer receivers against a gateway CHILD process (this binary's `run`, or
// --gateway-cmd) and reports per-stream latency percentiles, frames/s, drops by reason and the
// gateway's CPU/RSS/GPU memory over time (src/stress/). Several stream counts run one after the
// other, each against a fresh gateway, and are printed side by side.
// Exit codes: 0 = every run passed; 1 = a run failed (gateway died or did not start, non-policy
// drop, memory growth over --max-growth-pct, unrecovered fault: see stress_report.h);
// 2 = bad arguments.
//   ultramotion stress --streams 1 --fps max --duration 60 --backend cpu
//   ultramotion stress --streams 1,2,4,8 --fps max --duration 60 --backend cuda --precision fp16
//   ultramotion stress --streams 1 --fps 25 --duration 1800 --max-growth-pct 1 --json soak.json
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "command_registry.h"
#include "gateway/frame_source.h"
#include "stress/stress_report.h"
#include "stress/stress_run.h"

namespace um::cli {
namespace {

struct StressArgs {
  std::string streams = "1";
  std::string fps = "25";
  std::string frame_size = "558x422";
  std::vector<std::string> gateway_set;
  stress::StressOptions o;
};

int fail_args(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 2;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  return static_cast<bool>(f);
}

int run_stress_command(StressArgs& a) {
  stress::StressOptions& o = a.o;
  std::string errors;
  auto counts = stress::parse_stream_counts(a.streams);
  if (counts.ok()) o.stream_counts = *counts;
  else errors += "\n  - " + counts.status().message();
  auto fps = stress::parse_fps(a.fps);
  if (fps.ok()) o.fps = *fps;
  else errors += "\n  - " + fps.status().message();
  auto size = gateway::parse_frame_size(a.frame_size);
  if (size.ok()) o.frame_size = *size;
  else errors += "\n  - --frame-size: " + size.status().message();
  o.gateway_set = a.gateway_set;
  for (const std::string& e : stress::option_errors(o)) errors += "\n  - " + e;
  if (!errors.empty()) return fail_args("invalid stress options:" + errors);

  // The simulators log every connection at info level; the report is what matters here (the
  // gateway's own log goes to its file). An explicit --log-level debug/trace is kept.
  if (spdlog::get_level() == spdlog::level::info) spdlog::set_level(spdlog::level::warn);
  std::vector<stress::RunResult> runs;
  std::vector<stress::RunSummary> summaries;
  for (int n : o.stream_counts) {
    Result<stress::RunResult> run = stress::run_stress(o, n);
    if (!run.ok()) {
      std::fprintf(stderr, "error: stress run with %d stream(s): %s\n", n,
                   run.status().to_string().c_str());
      return 1;
    }
    summaries.push_back(stress::summarize(*run, o));
    std::printf("%s\n", stress::format_run(*run, summaries.back(), o).c_str());
    std::fflush(stdout);
    runs.push_back(std::move(run).value());
  }
  if (runs.size() > 1) std::printf("%s", stress::format_side_by_side(summaries).c_str());
  bool pass = true;
  for (const auto& s : summaries) pass = pass && s.pass;
  if (!o.json_path.empty() &&
      !write_file(o.json_path, stress::report_json(o, runs, summaries).dump(2) + "\n"))
    std::fprintf(stderr, "error: cannot write --json '%s'\n", o.json_path.c_str()), pass = false;
  if (!o.csv_path.empty() && !write_file(o.csv_path, stress::series_csv(runs)))
    std::fprintf(stderr, "error: cannot write --csv '%s'\n", o.csv_path.c_str()), pass = false;
  std::printf("stress: %s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

void register_stress(CLI::App& app) {
  auto a = std::make_shared<StressArgs>();
  stress::StressOptions& o = a->o;
  CLI::App* cmd = app.add_subcommand(
      "stress", "Drive PLUS simulators and Slicer receivers against a gateway child process: "
                "latency percentiles, frames/s, drops by reason, CPU/RSS/GPU memory over time");
  cmd->add_option("--streams", a->streams,
                  "stream count, or a list run one after the other (e.g. 1,2,4,8)")
      ->capture_default_str();
  cmd->add_option("--fps", a->fps,
                  "frames per second per stream, or 'max' (simulators at --max-fps with "
                  "preloaded frames; the gateway keeps the newest)")
      ->capture_default_str();
  cmd->add_option("--max-fps", o.max_fps, "simulator rate for --fps max (<= 1000)")
      ->capture_default_str();
  cmd->add_option("--duration", o.duration_s, "measured seconds per run (after the warm-up)")
      ->capture_default_str();
  cmd->add_option("--warmup", o.warmup_s, "seconds excluded from every figure")
      ->capture_default_str();
  cmd->add_flag("--faults", o.faults,
                "kill/restart simulators, reconnect receivers, inject malformed messages");
  cmd->add_option("--fault-interval", o.fault_interval_s,
                  "seconds between faults (0: duration/7 within [2, 60])")
      ->capture_default_str();
  cmd->add_option("--fault-timeout", o.fault_timeout_s,
                  "a fault must be followed by fresh output on its stream within this")
      ->capture_default_str();
  cmd->add_option("--min-faults", o.min_faults,
                  "with --faults: measure until at least this many faults have ended, even past "
                  "--duration (0: what fits in it)")
      ->capture_default_str();
  cmd->add_option("--max-growth-pct", o.max_growth_pct,
                  "fail when RSS or GPU memory grows more than this (steady state; < 0: report only)")
      ->capture_default_str();
  cmd->add_option("--backend", o.backend, "gateway backend: cpu | cuda")->capture_default_str();
  cmd->add_option("--precision", o.precision, "fp32 | fp16")->capture_default_str();
  cmd->add_option("--dfine", o.dfine, "D-FINE checkpoint")->capture_default_str();
  cmd->add_option("--sam", o.sam, "MobileSAM checkpoint")->capture_default_str();
  cmd->add_flag("--allow-synthetic", o.allow_synthetic,
                "missing checkpoints -> seeded synthetic weights (tests)");
  cmd->add_option("--max-batch", o.max_batch, "multi-stream batching.max_batch (0 = streams)")
      ->capture_default_str();
  cmd->add_option("--max-wait-ms", o.max_wait_ms, "multi-stream batching.max_wait_ms")
      ->capture_default_str();
  cmd->add_option("--overlap", o.overlap, "multi-stream batching.overlap (true|false)")
      ->capture_default_str();
  cmd->add_option("--config-format", o.config_format,
                  "gateway config: auto (legacy for 1 stream) | legacy | streams")
      ->capture_default_str();
  cmd->add_option("--gateway-set", a->gateway_set, "extra gateway override KEY=VALUE (--set)");
  cmd->add_option("--gateway-cmd", o.gateway_cmd,
                  "gateway executable (+ leading args) instead of this binary; `run --config "
                  "FILE` is appended");
  cmd->add_option("--source", o.source, "simulator frames: phantom | a folder of PNG/JPEG")
      ->capture_default_str();
  cmd->add_option("--frame-size", a->frame_size, "phantom frame size HxW")->capture_default_str();
  cmd->add_option("--burst-probability", o.burst_probability,
                  "chance a simulator frame starts a PLUS-like burst")
      ->capture_default_str();
  cmd->add_option("--sample-interval", o.sample_interval_s, "dashboard polling period, seconds")
      ->capture_default_str();
  cmd->add_option("--start-timeout", o.start_timeout_s, "seconds to wait for the gateway to serve")
      ->capture_default_str();
  cmd->add_option("--json", o.json_path, "write everything (figures, series, faults) as JSON");
  cmd->add_option("--csv", o.csv_path, "write the time series (one row per poll) as CSV");
  cmd->add_option("--log-dir", o.log_dir, "gateway configs and logs (default: a temp folder)");
  cmd->add_flag("--quiet", o.quiet, "no progress lines on stderr");
  cmd->callback([a] {
    const int code = run_stress_command(*a);
    if (code != 0) throw CommandFailed(code);
  });
}

}  // namespace
UM_REGISTER_COMMAND(register_stress);
}  // namespace um::cli
