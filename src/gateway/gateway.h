// File: src/gateway/gateway.h
// Purpose: the running gateway: PLUS in, Slicer out, the per-frame pipeline in between, for one
// or several streams (probes) sharing the models (issue 10 part 3).
//
//   per stream:  PlusClient thread (RX)  IMAGE -> Frame (id, receive time) -> rx slot (2, newest
//                                        wins) -> FrameDispatcher::notify()
//   one thread:  FrameDispatcher         takes the streams' frames, batches the ones that arrive
//                                        together (latency cap batching.max_wait_ms), overlaps
//                                        them on the stream's processor (submit/complete); per
//                                        stream: age check (max_frame_age_ms) before submit,
//                                        then on its result: metrics, outbox (8, drop-oldest)
//                                        [+ recorder]
//   per stream:  TX thread               drains its outbox on each wake -> BoneMask (+ weights,
//                                        STATUS) -> its SlicerServer::broadcast (per-client
//                                        queues: a stuck Slicer client only loses its own)
// Each stream has its own processor (from pipeline::create_frame_processors: one copy of the
// models, own tracker/visibility state), Slicer port and device name, queues, counters and
// metrics: a stream whose PLUS peer dies or sends garbage only affects its own figures.
// Config without `streams:`: one stream with unlabelled metrics (the single-probe gateway as
// before); with `streams:`: metrics labelled stream=<name> (monitor::Monitor::add_stream).
// One gateway process serves one GPU (`--gpu N`): several GPUs = several processes.
// Recording (`record: run.umrec`) with several streams writes one file per stream
// (run.probe1.umrec, ...); the dashboard's "latest frame" shows the first stream.
//
// Every stage is timed and every drop counted with its stage and reason in the metrics registry
// (monitor/pipeline_metrics.h names): drops{stage, reason} with
//   rx:      bad_image, malformed_<igtl reject reason>, burst_superseded
//   rx_slot: evicted_oldest, superseded          (the latest-frame slot)
//   process: stale, error                        (age limit, processor failure)
//   outbox:  evicted_oldest
//   tx:      client_queue_full, encode_error
//   record:  rejected_full
// um_gateway_overhead_seconds records RX->TX time minus the processor's own time per frame.
// The dispatcher's batching: um_dispatch_batches_total, um_dispatch_batch_frames_mean,
// um_dispatch_overlapped_total, um_dispatch_max_in_flight (Prometheus /metrics).
// Each thread loop catches std::exception (StageErrors): logged with the stage, counted, the
// first kept for main (first_error()).
//
// Usage:
//   monitor::Monitor mon;                                          // registry + dashboard data
//   UM_ASSIGN_OR_RETURN(auto procs, make_frame_processors(cfg));   // gateway/model_setup.h
//   Gateway gw(cfg, std::move(procs), mon);                        // one per effective stream
//   UM_RETURN_IF_ERROR(gw.start());
//   ... wait for SIGINT ...
//   gw.stop();                                  // drains, completes the recordings
//   if (auto e = gw.first_error()) std::rethrow_exception(e);
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "gateway/bounded_queue.h"
#include "gateway/config.h"
#include "gateway/igtl_convert.h"
#include "gateway/recorder.h"
#include "gateway/stage_errors.h"
#include "igtl/plus_client.h"
#include "igtl/slicer_server.h"
#include "monitor/metrics.h"
#include "monitor/monitor.h"
#include "monitor/pipeline_metrics.h"
#include "pipeline/frame_processor.h"

namespace um::gateway {

// Settings that are not part of the user's config file.
struct GatewayRuntime {
  // Text for the "Weights" metadata key ("trained", or a loud SYNTHETIC note).
  std::string weights_note = "trained";
  // Metadata "SyntheticWeights": which models run on synthetic weights ("dfine", "sam",
  // "dfine,sam") or "none" (pipeline::synthetic_models_label).
  std::string synthetic_weights = "none";
  // Slicer server bind address ("0.0.0.0" to accept remote Slicer instances).
  std::string slicer_host = "0.0.0.0";
  // Tests: PLUS client timings (faster reconnects keep fault tests short).
  int plus_backoff_max_ms = 2000;
  int plus_stall_timeout_ms = 1000;
};

// A snapshot of one stream's counters (the registry holds the same figures by name).
struct GatewayStats {
  std::string stream;             // the stream's name
  uint64_t frames_received = 0;   // images converted and put into the rx slot
  uint64_t frames_processed = 0;  // results produced
  uint64_t frames_sent = 0;       // results whose messages were handed to the server
  uint64_t stage_errors = 0;      // exceptions caught in this stream's RX/TX/result handling
  uint64_t geometry_changes = 0;  // frame size changed mid-stream (processor reset)
  QueueStats rx_slot;
  QueueStats outbox;
  igtl::PlusClientCounters plus;
  igtl::ServerCounters slicer;
  uint64_t drops(const std::string& stage, const std::string& reason) const;
  std::vector<std::pair<std::string, uint64_t>> drop_counts;  // "stage/reason" -> count
};

class FrameDispatcher;

class Gateway {
 public:
  // One processor per stream of effective_streams(config) (stream_config.h), in that order.
  Gateway(GatewayConfig config, std::vector<std::unique_ptr<pipeline::FrameProcessor>> processors,
          monitor::Monitor& monitor, GatewayRuntime runtime = {});
  // A single-stream config (no `streams:`) and its processor.
  Gateway(GatewayConfig config, std::unique_ptr<pipeline::FrameProcessor> processor,
          monitor::Monitor& monitor, GatewayRuntime runtime = {});
  ~Gateway();  // stop()
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds every stream's Slicer port (kUnavailable names the stream and port), opens the
  // recordings, starts the threads. slicer.port 0 binds an ephemeral port (see slicer_port()).
  Status start();
  // Stops RX, finishes the frames in progress, sends what is queued, completes the recordings,
  // closes every socket. Idempotent.
  void stop();

  size_t stream_count() const { return streams_.size(); }
  const std::string& stream_name(size_t stream) const;
  uint16_t slicer_port(size_t stream = 0) const;
  std::exception_ptr first_error() const { return errors_.first(); }
  std::string first_error_description() const { return errors_.first_description(); }
  GatewayStats stats(size_t stream = 0) const;
  std::vector<GatewayStats> all_stats() const;
  // Per-client statistics of a stream's Slicer server (empty before start / after stop).
  std::vector<igtl::ClientStats> slicer_clients(size_t stream = 0) const;
  const GatewayConfig& config() const { return config_; }
  monitor::PipelineMetrics& metrics(size_t stream = 0);
  std::string processor_description() const { return processor_description_; }
  // The dispatcher's batching figures (null before start()).
  const FrameDispatcher* dispatcher() const { return dispatcher_.get(); }

 private:
  struct Stream;

  void on_image(Stream& s, igtl::Message&& message);
  void on_link_state(Stream& s, igtl::LinkState state, const std::string& why);
  bool admit(Stream& s, const pipeline::Frame& frame);
  void on_result(Stream& s, pipeline::Frame&& frame, Result<pipeline::FrameResult>&& result);
  void tx_loop(Stream& s);
  void send_one(Stream& s, OutputItem& item);
  void sync_external_counters(Stream& s);  // plus-client and server counters -> drop metrics
  void record_error(Stream& s, const char* stage, const std::exception& e);
  // um_dispatch_* callbacks reading the dispatcher's stats (detached again in the destructor).
  void register_dispatch_metrics();

  GatewayConfig config_;
  GatewayRuntime runtime_;
  std::string processor_description_;
  monitor::Monitor& monitor_;
  monitor::Registry& registry_;
  StageErrors errors_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::unique_ptr<FrameDispatcher> dispatcher_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace um::gateway
