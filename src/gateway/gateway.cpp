// The gateway's three stages and their wiring (gateway.h).
#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/clock.h"

namespace um::gateway {
namespace {

using std::chrono::milliseconds;

// How long a blocked stage waits before re-checking for shutdown. Waits end early on data.
constexpr milliseconds kWakeInterval(100);

monitor::VisibilityState to_monitor_state(pipeline::VisibilityState s) {
  switch (s) {
    case pipeline::VisibilityState::kVisible: return monitor::VisibilityState::kVisible;
    case pipeline::VisibilityState::kRelocalizing: return monitor::VisibilityState::kRelocalizing;
    case pipeline::VisibilityState::kLost: return monitor::VisibilityState::kLost;
  }
  return monitor::VisibilityState::kUnknown;
}

// Hooks a queue's own drop counting into drops{stage, reason}.
template <typename T>
void count_queue_drops(BoundedQueue<T>& q, monitor::PipelineMetrics& m, const std::string& stage) {
  std::array<monitor::Counter*, static_cast<size_t>(DropReason::kCount)> counters{};
  for (size_t i = 0; i < counters.size(); ++i)
    counters[i] = &m.drops(stage, drop_reason_name(static_cast<DropReason>(i)));
  q.set_drop_hook([counters](DropReason r, size_t n) {
    counters[static_cast<size_t>(r)]->inc(n);
  });
}

}  // namespace

uint64_t GatewayStats::drops(const std::string& stage, const std::string& reason) const {
  const std::string key = stage + "/" + reason;
  for (const auto& [k, v] : drop_counts)
    if (k == key) return v;
  return 0;
}

Gateway::Gateway(GatewayConfig config, std::unique_ptr<pipeline::FrameProcessor> processor,
                 monitor::Monitor& monitor, GatewayRuntime runtime)
    : config_(std::move(config)),
      runtime_(std::move(runtime)),
      processor_(std::move(processor)),
      monitor_(monitor),
      registry_(monitor.registry()),
      metrics_(monitor.pipeline()),
      errors_(monitor.registry()),
      rx_slot_("rx", static_cast<size_t>(config_.queues.rx_capacity), QueuePolicy::kTakeLatest),
      outbox_("outbox", static_cast<size_t>(config_.queues.tx_capacity),
              QueuePolicy::kDropOldest) {
  processor_description_ = processor_ ? processor_->description() : "none";
  tx_options_.device = config_.slicer.device;
  tx_options_.label_value = config_.slicer.label_value;
  tx_options_.outputs = config_.slicer.outputs;
  tx_options_.weights_note = runtime_.weights_note;
  tx_options_.synthetic_weights = runtime_.synthetic_weights;

  count_queue_drops(rx_slot_, metrics_, "rx_slot");
  count_queue_drops(outbox_, metrics_, "outbox");
  drop_bad_image_ = &drop_counter("rx", "bad_image");
  drop_stale_ = &drop_counter("process", "stale");
  drop_process_error_ = &drop_counter("process", "error");
  drop_encode_error_ = &drop_counter("tx", "encode_error");
  depth_rx_ = &metrics_.queue_depth("rx");
  depth_outbox_ = &metrics_.queue_depth("outbox");
  overhead_ = &registry_.histogram(
      "um_gateway_overhead_seconds",
      "RX->TX latency minus the frame processor's own time (queues, conversion, encoding, send)");
  hop_rx_process_ = &metrics_.hop_latency("rx", "preprocess");
  hop_process_tx_ = &metrics_.hop_latency("readback", "tx");
  stage_process_ = &metrics_.stage_latency("process");
  stage_tx_ = &metrics_.stage_latency("tx");
  stage_preprocess_ = &metrics_.stage_latency("preprocess");
  stage_detector_ = &metrics_.stage_latency("dfine");
  stage_encoder_ = &metrics_.stage_latency("sam_encoder");
  stage_decoder_ = &metrics_.stage_latency("sam_decoder");
  stage_weights_ = &metrics_.stage_latency("weights");
  stage_quality_ = &metrics_.stage_latency("quality");
  stage_readback_ = &metrics_.stage_latency("readback");
  metrics_.set_connected("plus", false);
}

Gateway::~Gateway() { stop(); }

monitor::Counter& Gateway::drop_counter(const std::string& stage, const std::string& reason) {
  return metrics_.drops(stage, reason);
}

Status Gateway::start() {
  if (started_) return failed_precondition("gateway already started");
  if (!processor_) return failed_precondition("gateway has no frame processor");
  tx_options_.wall_minus_monotonic_ns = wall_clock_ns() - monotonic_ns();

  igtl::SlicerServerOptions so;
  so.host = runtime_.slicer_host;
  so.port = static_cast<uint16_t>(config_.slicer.port);
  so.queue_capacity = static_cast<size_t>(config_.queues.tx_capacity);
  server_ = std::make_unique<igtl::SlicerServer>(so);
  UM_RETURN_IF_ERROR_CTX(server_->start(), "Slicer server on port " +
                                               std::to_string(config_.slicer.port));

  if (!config_.record.empty()) {
    auto& rejected = drop_counter("record", "rejected_full");
    auto rec = AsyncRecorder::start(
        config_.record, [&rejected](DropReason, size_t n) { rejected.inc(n); },
        [this](const std::exception& e) { errors_.record("record", e); });
    if (!rec.ok()) {
      server_->stop();
      return rec.status().with_context("--record");
    }
    recorder_ = std::move(rec).value();
    spdlog::info("[record] recording frames and results to '{}'", config_.record);
  }

  rx_slot_.reopen();
  outbox_.reopen();
  process_thread_ = std::thread([this] { process_loop(); });
  tx_thread_ = std::thread([this] { tx_loop(); });

  igtl::PlusClientOptions po;
  po.host = config_.plus.host;
  po.port = static_cast<uint16_t>(config_.plus.port);
  po.device_filter = config_.plus.device.empty() ? "*" : config_.plus.device;
  po.backoff_initial_ms = std::min(100, config_.plus.reconnect_ms);
  po.backoff_max_ms = std::max(config_.plus.reconnect_ms, po.backoff_initial_ms);
  po.backoff_max_ms = std::min(po.backoff_max_ms, runtime_.plus_backoff_max_ms);
  po.stall_timeout_ms = runtime_.plus_stall_timeout_ms;
  client_ = std::make_unique<igtl::PlusClient>(po);
  client_->start([this](igtl::Message&& m) { on_image(std::move(m)); },
                 [this](igtl::LinkState s, const std::string& why) { on_link_state(s, why); });
  started_ = true;
  spdlog::info("[gateway] PLUS {}:{} (device '{}') -> Slicer port {} | processor: {}",
               config_.plus.host, config_.plus.port, po.device_filter, server_->port(),
               processor_description_);
  return Status::Ok();
}

void Gateway::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Upstream first, so every stage finishes what it already holds.
  if (client_) client_->stop();
  rx_slot_.close();
  if (process_thread_.joinable()) process_thread_.join();
  outbox_.close();
  if (tx_thread_.joinable()) tx_thread_.join();
  if (recorder_) {
    Status s = recorder_->finish();
    if (!s.ok()) spdlog::error("[record] {}", s.to_string());
  }
  if (server_) server_->stop();
  metrics_.set_connected("plus", false);
  spdlog::info("[gateway] stopped: {} received, {} processed, {} sent", frames_received_.load(),
               frames_processed_.load(), frames_sent_.load());
}

uint16_t Gateway::slicer_port() const { return server_ ? server_->port() : 0; }

std::vector<igtl::ClientStats> Gateway::slicer_clients() const {
  return server_ ? server_->client_stats() : std::vector<igtl::ClientStats>{};
}

// --- RX (PLUS client thread) ------------------------------------------------------------------

void Gateway::on_image(igtl::Message&& message) {
  try {
    const int64_t now = monotonic_ns();
    Result<pipeline::Frame> frame = frame_from_image_message(message);
    if (!frame.ok()) {
      drop_bad_image_->inc();
      spdlog::warn("[rx] image from '{}' dropped: {}", message.device_name,
                   frame.status().to_string());
      return;
    }
    frame->id = next_frame_id_.fetch_add(1, std::memory_order_relaxed);
    frame->receive_time_ns = now;
    metrics_.frame_received(now);
    frames_received_.fetch_add(1, std::memory_order_relaxed);
    rx_slot_.push(std::move(frame).value());
    depth_rx_->set(static_cast<double>(rx_slot_.size()));
  } catch (const std::exception& e) {
    errors_.record("rx", e);
  }
}

void Gateway::on_link_state(igtl::LinkState state, const std::string& why) {
  const bool up = state == igtl::LinkState::kConnected || state == igtl::LinkState::kStreaming ||
                  state == igtl::LinkState::kStalled;
  metrics_.set_connected("plus", up);
  if (state == igtl::LinkState::kStreaming) return;  // every resumed frame would log
  spdlog::info("[rx] PLUS link {}{}{}", igtl::link_state_name(state), why.empty() ? "" : ": ",
               why);
}

// --- processing thread --------------------------------------------------------------------------

void Gateway::process_loop() {
  for (;;) {
    std::optional<pipeline::Frame> frame = rx_slot_.pop(kWakeInterval);
    depth_rx_->set(static_cast<double>(rx_slot_.size()));
    if (!frame) {
      if (rx_slot_.closed()) return;
      continue;
    }
    try {
      process_one(std::move(*frame));
    } catch (const std::exception& e) {
      errors_.record("process", e);
    }
  }
}

void Gateway::process_one(pipeline::Frame&& frame) {
  const int64_t start = monotonic_ns();
  const int64_t age = start - frame.receive_time_ns;
  if (age > static_cast<int64_t>(config_.queues.max_frame_age_ms) * 1'000'000) {
    drop_stale_->inc();
    spdlog::debug("[process] frame {} dropped: {:.1f} ms old", frame.id, ns_to_ms(age));
    return;
  }
  if (frame.width != last_width_ || frame.height != last_height_) {
    if (last_width_ != 0) {
      geometry_changes_.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("[process] frame size changed {}x{} -> {}x{}: temporal state reset",
                   last_width_, last_height_, frame.width, frame.height);
    }
    processor_->reset();
    last_width_ = frame.width;
    last_height_ = frame.height;
  }
  Result<pipeline::FrameResult> result = processor_->process(frame);
  const int64_t end = monotonic_ns();
  stage_process_->record_ns(end - start, end);
  if (!result.ok()) {
    drop_process_error_->inc();
    spdlog::warn("[process] frame {} failed: {}", frame.id, result.status().to_string());
    return;
  }
  pipeline::FrameResult& r = result.value();
  const auto& t = r.timings;
  hop_rx_process_->record_ns((t.start_ns ? t.start_ns : start) - frame.receive_time_ns, end);
  for (auto [h, v] : {std::pair{stage_preprocess_, t.preprocess_ns},
                      {stage_detector_, t.detector_ns}, {stage_encoder_, t.encoder_ns},
                      {stage_decoder_, t.decoder_ns}, {stage_weights_, t.weights_ns},
                      {stage_quality_, t.quality_ns}, {stage_readback_, t.readback_ns}})
    if (v > 0) h->record_ns(v, end);
  if (r.timings.start_ns == 0) r.timings.start_ns = start;
  if (r.timings.end_ns == 0) r.timings.end_ns = end;
  if (r.timings.total_ns == 0) r.timings.total_ns = end - start;
  frames_processed_.fetch_add(1, std::memory_order_relaxed);

  if (recorder_) recorder_->submit(frame, r);
  monitor::FrameView view;
  view.width = frame.width;
  view.height = frame.height;
  view.gray = frame.pixels.data();
  view.mask = r.mask.size() == frame.pixels.size() ? r.mask.data() : nullptr;
  if (r.detected) view.box = std::array<float, 4>{r.box.x0, r.box.y0, r.box.x1, r.box.y1};
  view.frame_id = static_cast<int64_t>(frame.id);
  view.state = to_monitor_state(r.state);
  view.score = r.box.score;
  monitor_.offer_frame(view, end);  // copies at most every display period
  OutputItem item;
  frame.pixels = {};  // TX needs geometry and times only
  item.frame = std::move(frame);
  item.result = std::move(r);
  item.result.low_res_logits = Tensor();
  item.enqueued_ns = monotonic_ns();
  outbox_.push(std::move(item));
  depth_outbox_->set(static_cast<double>(outbox_.size()));
}

// --- TX thread ----------------------------------------------------------------------------------

void Gateway::tx_loop() {
  for (;;) {
    std::vector<OutputItem> items = outbox_.drain(kWakeInterval);
    depth_outbox_->set(0.0);
    for (OutputItem& item : items) {
      try {
        send_one(item);
      } catch (const std::exception& e) {
        errors_.record("tx", e);
      }
    }
    try {
      sync_external_counters();
    } catch (const std::exception& e) {
      errors_.record("tx", e);
    }
    if (items.empty() && outbox_.closed()) return;
  }
}

void Gateway::send_one(OutputItem& item) {
  const int64_t start = monotonic_ns();
  std::vector<igtl::Message> messages = build_tx_messages(item, tx_options_, start);
  for (const igtl::Message& m : messages) {
    Status s = server_->broadcast(m);
    if (!s.ok()) {
      drop_encode_error_->inc();
      spdlog::warn("[tx] {} for frame {} not sent: {}", m.device_name, item.result.frame_id,
                   s.to_string());
    }
  }
  const int64_t end = monotonic_ns();
  const int64_t rx_to_tx = end - item.frame.receive_time_ns;
  metrics_.frame_sent(end, rx_to_tx);
  stage_tx_->record_ns(end - start, end);
  hop_process_tx_->record_ns(start - item.result.timings.end_ns, end);
  overhead_->record_ns(rx_to_tx - item.result.timings.total_ns, end);
  metrics_.set_visibility(to_monitor_state(item.result.state), end);
  frames_sent_.fetch_add(1, std::memory_order_relaxed);
}

void Gateway::sync_external_counters() {
  if (client_) {
    const igtl::PlusClientCounters c = client_->counters();
    if (c.superseded > seen_superseded_) {
      // Frames a PLUS burst superseded did arrive: they count as received for fps-in and for
      // the drop ratio (otherwise drops could exceed receptions), and as dropped.
      const uint64_t n = c.superseded - seen_superseded_;
      drop_counter("rx", "burst_superseded").inc(n);
      const int64_t now = monotonic_ns();
      for (uint64_t i = 0; i < n; ++i) metrics_.frame_received(now);
      seen_superseded_ = c.superseded;
    }
    if (c.reconnects > seen_reconnects_) {
      metrics_.reconnects("plus").inc(c.reconnects - seen_reconnects_);
      seen_reconnects_ = c.reconnects;
    }
    for (size_t i = 0; i < c.rejects.size(); ++i) {
      if (c.rejects[i] > seen_rejects_[i]) {
        drop_counter("rx", std::string("malformed_") +
                               igtl::reject_reason_name(static_cast<igtl::RejectReason>(i)))
            .inc(c.rejects[i] - seen_rejects_[i]);
        seen_rejects_[i] = c.rejects[i];
      }
    }
  }
  if (server_) {
    const igtl::ServerCounters s = server_->counters();
    if (s.dropped > seen_client_drops_) {
      drop_counter("tx", "client_queue_full").inc(s.dropped - seen_client_drops_);
      seen_client_drops_ = s.dropped;
    }
    metrics_.queue_depth("slicer_clients").set(static_cast<double>(server_->client_count()));
  }
}

GatewayStats Gateway::stats() const {
  GatewayStats s;
  s.frames_received = frames_received_.load();
  s.frames_processed = frames_processed_.load();
  s.frames_sent = frames_sent_.load();
  s.stage_errors = errors_.count();
  s.geometry_changes = geometry_changes_.load();
  s.rx_slot = rx_slot_.stats();
  s.outbox = outbox_.stats();
  if (client_) s.plus = client_->counters();
  if (server_) s.slicer = server_->counters();
  for (const monitor::FamilySnapshot& f : registry_.collect(monotonic_ns(), 1)) {
    if (f.name != "um_drops_total") continue;
    for (const monitor::SeriesSnapshot& series : f.series) {
      std::string stage, reason;
      for (const auto& [k, v] : series.labels) {
        if (k == "stage") stage = v;
        if (k == "reason") reason = v;
      }
      s.drop_counts.emplace_back(stage + "/" + reason, static_cast<uint64_t>(series.value));
    }
  }
  return s;
}

}  // namespace um::gateway
