// File: src/gateway/gateway.h
// Purpose: the running gateway: PLUS in, Slicer out, the per-frame pipeline in between.
//
//   PlusClient thread (RX)  IMAGE -> Frame (id, receive time) -> rx slot (2, newest wins)
//   processing thread       age check (max_frame_age_ms) -> FrameProcessor -> outbox (8,
//                           drop-oldest) [+ recorder]
//   TX thread               drains the outbox on each wake -> BoneMask (+ weights, STATUS) ->
//                           SlicerServer::broadcast (per-client queues: a stuck Slicer client
//                           only loses its own messages)
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
// Each thread loop catches std::exception (StageErrors): logged with the stage, counted, the
// first kept for main (first_error()).
//
// Usage:
//   monitor::Monitor mon;                                          // registry + dashboard data
//   UM_ASSIGN_OR_RETURN(ProcessorSetup p, make_frame_processor(cfg)); // gateway/model_setup.h
//   Gateway gw(cfg, std::move(p.processor), mon);
//   UM_RETURN_IF_ERROR(gw.start());
//   ... wait for SIGINT ...
//   gw.stop();                                  // drains, completes the recording
//   if (auto e = gw.first_error()) std::rethrow_exception(e);
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>

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

// A snapshot of the gateway's own counters (the registry holds the same figures by name).
struct GatewayStats {
  uint64_t frames_received = 0;   // images converted and put into the rx slot
  uint64_t frames_processed = 0;  // results produced
  uint64_t frames_sent = 0;       // results whose messages were handed to the server
  uint64_t stage_errors = 0;
  uint64_t geometry_changes = 0;  // frame size changed mid-stream (processor reset)
  QueueStats rx_slot;
  QueueStats outbox;
  igtl::PlusClientCounters plus;
  igtl::ServerCounters slicer;
  uint64_t drops(const std::string& stage, const std::string& reason) const;
  std::vector<std::pair<std::string, uint64_t>> drop_counts;  // "stage/reason" -> count
};

class Gateway {
 public:
  Gateway(GatewayConfig config, std::unique_ptr<pipeline::FrameProcessor> processor,
          monitor::Monitor& monitor, GatewayRuntime runtime = {});
  ~Gateway();  // stop()
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds the Slicer port (kUnavailable names it), opens the recording, starts the threads.
  // slicer.port 0 binds an ephemeral port (tests; see slicer_port()).
  Status start();
  // Stops RX, finishes the frame in progress, sends what is queued, completes the recording,
  // closes every socket. Idempotent.
  void stop();

  uint16_t slicer_port() const;
  std::exception_ptr first_error() const { return errors_.first(); }
  std::string first_error_description() const { return errors_.first_description(); }
  GatewayStats stats() const;
  // Per-client statistics of the Slicer server (empty before start / after stop).
  std::vector<igtl::ClientStats> slicer_clients() const;
  const GatewayConfig& config() const { return config_; }
  monitor::PipelineMetrics& metrics() { return metrics_; }
  std::string processor_description() const { return processor_description_; }

 private:
  void on_image(igtl::Message&& message);
  void on_link_state(igtl::LinkState state, const std::string& why);
  void process_loop();
  void tx_loop();
  void process_one(pipeline::Frame&& frame);
  void send_one(OutputItem& item);
  void sync_external_counters();  // plus-client and server counters -> drop metrics
  monitor::Counter& drop_counter(const std::string& stage, const std::string& reason);

  GatewayConfig config_;
  GatewayRuntime runtime_;
  std::unique_ptr<pipeline::FrameProcessor> processor_;
  std::string processor_description_;
  monitor::Monitor& monitor_;
  monitor::Registry& registry_;
  monitor::PipelineMetrics& metrics_;
  StageErrors errors_;
  TxOptions tx_options_;

  BoundedQueue<pipeline::Frame> rx_slot_;
  BoundedQueue<OutputItem> outbox_;
  std::unique_ptr<igtl::SlicerServer> server_;
  std::unique_ptr<igtl::PlusClient> client_;
  std::unique_ptr<AsyncRecorder> recorder_;
  std::thread process_thread_;
  std::thread tx_thread_;
  bool started_ = false;
  bool stopped_ = false;

  std::atomic<uint64_t> next_frame_id_{1};
  std::atomic<uint64_t> frames_received_{0};
  std::atomic<uint64_t> frames_processed_{0};
  std::atomic<uint64_t> frames_sent_{0};
  std::atomic<uint64_t> geometry_changes_{0};
  int last_width_ = 0;   // processing thread only
  int last_height_ = 0;  // processing thread only

  // Handles resolved once in the constructor (hot path: no lookups).
  monitor::Counter* drop_bad_image_;
  monitor::Counter* drop_stale_;
  monitor::Counter* drop_process_error_;
  monitor::Counter* drop_encode_error_;
  monitor::Gauge* depth_rx_;
  monitor::Gauge* depth_outbox_;
  monitor::LatencyHistogram* overhead_;
  monitor::LatencyHistogram* hop_rx_process_;
  monitor::LatencyHistogram* hop_process_tx_;
  monitor::LatencyHistogram* stage_process_;
  monitor::LatencyHistogram* stage_tx_;
  monitor::LatencyHistogram* stage_preprocess_;
  monitor::LatencyHistogram* stage_detector_;
  monitor::LatencyHistogram* stage_encoder_;
  monitor::LatencyHistogram* stage_decoder_;
  monitor::LatencyHistogram* stage_weights_;
  monitor::LatencyHistogram* stage_quality_;
  monitor::LatencyHistogram* stage_readback_;

  // Last seen values of counters owned by the PLUS client / Slicer server (TX thread only).
  uint64_t seen_superseded_ = 0;
  uint64_t seen_reconnects_ = 0;
  uint64_t seen_client_drops_ = 0;
  igtl::RejectCounts seen_rejects_{};
};

}  // namespace um::gateway
