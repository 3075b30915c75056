// File: src/stress/stress_run.h
// Purpose: one stress run: N streams against a FRESH gateway child process.
//   1. start N PLUS simulators (ephemeral ports), pick Slicer and dashboard ports, write the
//      gateway config, spawn `<gateway> run --config <yaml>`;
//   2. start N Slicer receivers; time zero = the moment every receiver is connected (the
//      gateway has loaded its models and serves);
//   3. warm-up (excluded from every figure; at least --warmup seconds and until every stream has
//      received its first labelmap), then the measured duration: the dashboard is polled
//      every sample interval, faults are injected at intervals (--faults);
//   4. one last poll, SIGINT to the gateway (its exit code is part of the verdict), stop all.
// Frames sent, labelmaps and latencies are counted over the measured window only.
//
// Usage:
//   UM_ASSIGN_OR_RETURN(RunResult r, run_stress(options, /*n_streams=*/4));
//   RunSummary s = summarize(r, options);   // stress_report.h
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "stress/faults.h"
#include "stress/gateway_metrics.h"
#include "stress/stress_options.h"

namespace um::stress {

struct StreamResult {
  std::string name;
  int plus_port = 0;
  int slicer_port = 0;
  std::vector<int64_t> latencies_ns;  // labelmaps received in the measured window
  uint64_t frames_sent = 0;           // by its simulator in the measured window
  uint64_t frames_sent_total = 0;     // since start (warm-up and restarts included)
  uint64_t labelmaps_total = 0;
  uint64_t receiver_connects = 0;
  uint64_t receiver_rejected = 0;     // malformed messages from the gateway
  uint64_t simulator_restarts = 0;
};

struct RunResult {
  int n_streams = 0;
  double simulator_fps = 0.0;
  bool max_rate = false;
  std::string config_path;
  std::string gateway_log;
  std::string gateway_command;
  bool started = false;          // every receiver connected within the start timeout
  std::string start_failure;     // why not (with the gateway log's tail)
  double startup_s = 0.0;        // spawn -> time zero
  double warmup_s = 0.0;         // actual warm-up: >= --warmup and until every stream's first
                                 // labelmap; the measured window starts here (t from time zero)
  double measured_s = 0.0;       // actual measured span
  bool died = false;             // the gateway exited before it was asked to
  double died_at_s = 0.0;
  int exit_code = -1;            // after SIGINT (or when it died)
  std::vector<StreamResult> streams;
  std::vector<MetricsSample> series;  // every poll, t_s from time zero (warm-up included)
  std::vector<FaultRecord> faults;
};

// Runs N streams; a gateway that does not start is reported in the result (started = false),
// not as an error. Errors: the simulators or the log folder cannot be set up.
Result<RunResult> run_stress(const StressOptions& options, int n_streams);

}  // namespace um::stress
