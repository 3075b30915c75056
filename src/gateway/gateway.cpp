// The gateway's stages and their wiring, per stream, around one FrameDispatcher (gateway.h).
#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/clock.h"
#include "gateway/frame_dispatcher.h"
#include "gateway/stream_config.h"
#include "monitor/detector_frames.h"

namespace um::gateway {
namespace {

using std::chrono::milliseconds;

// How long a blocked TX thread waits before re-checking for shutdown. Waits end early on data.
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

// "run.umrec" -> "run.probe1.umrec": one recording per stream of a multi-stream gateway (the
// recording format holds one stream).
std::string stream_record_path(const std::string& path, const std::string& stream) {
  std::filesystem::path p(path);
  const std::string ext = p.extension().string();
  p.replace_extension();
  return p.string() + "." + stream + ext;
}

std::string label_value(const monitor::Labels& labels, const std::string& key) {
  for (const auto& [k, v] : labels)
    if (k == key) return v;
  return {};
}

}  // namespace

// Everything one stream owns. The dispatcher thread touches processor, last_width/height and the
// result-side handles; RX and TX threads their own sides; counters are atomics.
struct Gateway::Stream {
  Stream(size_t i, StreamSettings settings, std::unique_ptr<pipeline::FrameProcessor> p,
         monitor::PipelineMetrics& m, const QueueConfig& q)
      : index(i),
        cfg(std::move(settings)),
        processor(std::move(p)),
        metrics(m),
        rx_slot("rx", static_cast<size_t>(q.rx_capacity), QueuePolicy::kTakeLatest),
        outbox("outbox", static_cast<size_t>(q.tx_capacity), QueuePolicy::kDropOldest) {}

  const size_t index;
  const StreamSettings cfg;
  std::unique_ptr<pipeline::FrameProcessor> processor;
  monitor::PipelineMetrics& metrics;
  TxOptions tx_options;
  std::string record_path;
  bool return_pixels = false;  // the dashboard shows stream 0's frames; recorders need pixels

  BoundedQueue<pipeline::Frame> rx_slot;
  BoundedQueue<OutputItem> outbox;
  std::unique_ptr<igtl::SlicerServer> server;
  std::unique_ptr<igtl::PlusClient> client;
  std::unique_ptr<AsyncRecorder> recorder;
  std::thread tx_thread;

  std::atomic<uint64_t> next_frame_id{1};
  std::atomic<uint64_t> frames_received{0};
  std::atomic<uint64_t> frames_processed{0};
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> geometry_changes{0};
  std::atomic<uint64_t> errors{0};
  int last_width = 0;   // dispatcher thread only
  int last_height = 0;  // dispatcher thread only

  // Handles resolved once (hot path: no lookups).
  monitor::Counter* drop_bad_image = nullptr;
  monitor::Counter* drop_stale = nullptr;
  monitor::Counter* drop_process_error = nullptr;
  monitor::Counter* drop_encode_error = nullptr;
  monitor::Gauge* depth_rx = nullptr;
  monitor::Gauge* depth_outbox = nullptr;
  monitor::LatencyHistogram* overhead = nullptr;
  monitor::LatencyHistogram* hop_rx_process = nullptr;
  monitor::LatencyHistogram* hop_process_tx = nullptr;
  monitor::LatencyHistogram* stage_process = nullptr;
  monitor::LatencyHistogram* stage_tx = nullptr;
  std::array<monitor::LatencyHistogram*, 7> stage_parts{};  // preprocess .. readback
  std::unique_ptr<monitor::DetectorFrames> detector_frames;  // D-FINE ran vs tracked frames

  // Last seen values of counters owned by the PLUS client / Slicer server (TX thread only).
  uint64_t seen_superseded = 0;
  uint64_t seen_reconnects = 0;
  uint64_t seen_client_drops = 0;
  igtl::RejectCounts seen_rejects{};
};

uint64_t GatewayStats::drops(const std::string& stage, const std::string& reason) const {
  const std::string key = stage + "/" + reason;
  for (const auto& [k, v] : drop_counts)
    if (k == key) return v;
  return 0;
}

Gateway::Gateway(GatewayConfig config, std::unique_ptr<pipeline::FrameProcessor> processor,
                 monitor::Monitor& monitor, GatewayRuntime runtime)
    : Gateway(std::move(config),
              [&processor] {
                std::vector<std::unique_ptr<pipeline::FrameProcessor>> v;
                v.push_back(std::move(processor));
                return v;
              }(),
              monitor, std::move(runtime)) {}

Gateway::Gateway(GatewayConfig config,
                 std::vector<std::unique_ptr<pipeline::FrameProcessor>> processors,
                 monitor::Monitor& monitor, GatewayRuntime runtime)
    : config_(std::move(config)),
      runtime_(std::move(runtime)),
      monitor_(monitor),
      registry_(monitor.registry()),
      errors_(monitor.registry()) {
  const std::vector<StreamSettings> settings = effective_streams(config_);
  const bool labelled = has_stream_list(config_);
  if (processors.size() != settings.size())
    throw Error(invalid_argument("gateway: " + std::to_string(processors.size()) +
                                 " processor(s) for " + std::to_string(settings.size()) +
                                 " stream(s)"));
  processor_description_ = processors.front() ? processors.front()->description() : "none";
  if (settings.size() > 1)
    processor_description_ += " | " + std::to_string(settings.size()) + " streams sharing the models";

  for (size_t i = 0; i < settings.size(); ++i) {
    monitor::PipelineMetrics& m =
        labelled ? monitor_.add_stream(settings[i].name) : monitor_.pipeline();
    auto s = std::make_unique<Stream>(i, settings[i], std::move(processors[i]), m,
                                      config_.queues);
    s->tx_options.device = s->cfg.slicer.device;
    s->tx_options.label_value = s->cfg.slicer.label_value;
    s->tx_options.outputs = s->cfg.slicer.outputs;
    s->tx_options.weights_note = runtime_.weights_note;
    s->tx_options.synthetic_weights = runtime_.synthetic_weights;
    if (!config_.record.empty())
      s->record_path = labelled ? stream_record_path(config_.record, s->cfg.name) : config_.record;
    s->return_pixels = i == 0 || !s->record_path.empty();

    count_queue_drops(s->rx_slot, m, "rx_slot");
    count_queue_drops(s->outbox, m, "outbox");
    s->drop_bad_image = &m.drops("rx", "bad_image");
    s->drop_stale = &m.drops("process", "stale");
    s->drop_process_error = &m.drops("process", "error");
    s->drop_encode_error = &m.drops("tx", "encode_error");
    s->depth_rx = &m.queue_depth("rx");
    s->depth_outbox = &m.queue_depth("outbox");
    s->overhead = &registry_.histogram(
        "um_gateway_overhead_seconds",
        "RX->TX latency minus the frame processor's own time (queues, conversion, encoding, send)",
        labelled ? monitor::Labels{{"stream", s->cfg.name}} : monitor::Labels{});
    s->hop_rx_process = &m.hop_latency("rx", "preprocess");
    s->hop_process_tx = &m.hop_latency("readback", "tx");
    s->stage_process = &m.stage_latency("process");
    s->stage_tx = &m.stage_latency("tx");
    const char* parts[] = {"preprocess", "dfine",   "sam_encoder", "sam_decoder",
                           "weights",    "quality", "readback"};
    for (size_t k = 0; k < s->stage_parts.size(); ++k)
      s->stage_parts[k] = &m.stage_latency(parts[k]);
    s->detector_frames = std::make_unique<monitor::DetectorFrames>(
        registry_, labelled ? monitor::Labels{{"stream", s->cfg.name}} : monitor::Labels{});
    m.set_connected("plus", false);
    streams_.push_back(std::move(s));
  }
}

namespace {

// The dispatcher's batching figures as metrics, read at collection time from its stats.
struct DispatchMetric {
  const char* name;
  const char* help;
  monitor::MetricType type;
  std::optional<double> (*read)(const DispatchStats&);
};

const DispatchMetric kDispatchMetrics[] = {
    {"um_dispatch_batches_total", "Batches the frame dispatcher completed",
     monitor::MetricType::kCounter,
     [](const DispatchStats& st) -> std::optional<double> {
       return static_cast<double>(st.batches);
     }},
    {"um_dispatch_batch_frames_mean", "Mean frames per completed batch (several streams)",
     monitor::MetricType::kGauge,
     [](const DispatchStats& st) -> std::optional<double> {
       if (st.batches == 0) return std::nullopt;  // no batch yet: no mean
       uint64_t frames = 0;
       for (size_t k = 1; k < st.batch_sizes.size(); ++k) frames += k * st.batch_sizes[k];
       return static_cast<double>(frames) / static_cast<double>(st.batches);
     }},
    {"um_dispatch_overlapped_total",
     "Frames submitted while the previous batch was still on the device",
     monitor::MetricType::kCounter,
     [](const DispatchStats& st) -> std::optional<double> {
       return static_cast<double>(st.overlapped);
     }},
    {"um_dispatch_max_in_flight", "Most frames in flight at once, over all streams",
     monitor::MetricType::kGauge,
     [](const DispatchStats& st) -> std::optional<double> {
       return static_cast<double>(st.max_in_flight_seen);
     }},
};

}  // namespace

Gateway::~Gateway() {
  stop();
  // The registry outlives this object: its dispatcher callbacks must not call into it.
  for (const DispatchMetric& m : kDispatchMetrics)
    registry_.callback(m.name, m.help, m.type, {}, [] { return std::optional<double>(); });
}

void Gateway::register_dispatch_metrics() {
  const FrameDispatcher* d = dispatcher_.get();
  for (const DispatchMetric& m : kDispatchMetrics) {
    registry_.callback(m.name, m.help, m.type, {},
                       [d, read = m.read] { return read(d->stats()); });
  }
}

const std::string& Gateway::stream_name(size_t stream) const {
  return streams_.at(stream)->cfg.name;
}

monitor::PipelineMetrics& Gateway::metrics(size_t stream) { return streams_.at(stream)->metrics; }

Status Gateway::start() {
  if (started_) return failed_precondition("gateway already started");
  for (const auto& s : streams_)
    if (!s->processor)
      return failed_precondition("gateway has no frame processor for stream '" + s->cfg.name +
                                 "'");
  const int64_t wall_minus_mono = wall_clock_ns() - monotonic_ns();
  const bool several = streams_.size() > 1;

  // Every port first: a stream that cannot bind fails the whole start, nothing left running.
  auto undo = [this] {
    for (auto& s : streams_) {
      if (s->recorder) (void)s->recorder->finish();
      s->recorder.reset();
      if (s->server) s->server->stop();
      s->server.reset();
    }
  };
  for (auto& sp : streams_) {
    Stream& s = *sp;
    s.tx_options.wall_minus_monotonic_ns = wall_minus_mono;
    igtl::SlicerServerOptions so;
    so.host = runtime_.slicer_host;
    so.port = static_cast<uint16_t>(s.cfg.slicer.port);
    so.queue_capacity = static_cast<size_t>(config_.queues.tx_capacity);
    s.server = std::make_unique<igtl::SlicerServer>(so);
    Status st = s.server->start();
    if (!st.ok()) {
      undo();
      return st.with_context((several ? "stream '" + s.cfg.name + "': " : std::string()) +
                             "Slicer server on port " + std::to_string(s.cfg.slicer.port));
    }
    if (!s.record_path.empty()) {
      auto& rejected = s.metrics.drops("record", "rejected_full");
      auto rec = AsyncRecorder::start(
          s.record_path, [&rejected](DropReason, size_t n) { rejected.inc(n); },
          [this, &s](const std::exception& e) { record_error(s, "record", e); });
      if (!rec.ok()) {
        undo();
        return rec.status().with_context("--record");
      }
      s.recorder = std::move(rec).value();
      spdlog::info("[record] {}recording frames and results to '{}'",
                   several ? "stream '" + s.cfg.name + "': " : std::string(), s.record_path);
    }
  }

  std::vector<DispatchStream> ds;
  for (auto& sp : streams_) {
    Stream& s = *sp;
    s.rx_slot.reopen();
    s.outbox.reopen();
    DispatchStream d;
    d.name = s.cfg.name;
    d.input = &s.rx_slot;
    d.processor = s.processor.get();
    d.admit = [this, &s](const pipeline::Frame& f) { return admit(s, f); };
    d.on_result = [this, &s](pipeline::Frame&& f, Result<pipeline::FrameResult>&& r) {
      on_result(s, std::move(f), std::move(r));
    };
    d.return_pixels = s.return_pixels;
    ds.push_back(std::move(d));
  }
  DispatchOptions dopt;
  dopt.max_batch = config_.batching.max_batch;
  dopt.max_wait_ms = config_.batching.max_wait_ms;
  // A processor that runs the whole frame inside complete() (the CPU backend, one frame in
  // flight) gains nothing from waiting for other streams: their frames would run one after the
  // other anyway, so the wait would only add latency. Frames already waiting are still taken
  // together.
  if (streams_.front()->processor->max_in_flight() <= 1 && dopt.max_wait_ms > 0) {
    spdlog::info("[gateway] batching.max_wait_ms {} -> 0: the {} backend runs frames one at a "
                 "time, waiting for a batch would only add latency",
                 config_.batching.max_wait_ms, config_.models.backend);
    dopt.max_wait_ms = 0;
  }
  dopt.overlap = config_.batching.overlap;
  dopt.on_error = [this](const std::exception& e) { errors_.record("process", e); };
  dispatcher_ = std::make_unique<FrameDispatcher>(std::move(ds), dopt);
  dispatcher_->start();
  register_dispatch_metrics();

  for (auto& sp : streams_) {
    Stream& s = *sp;
    s.tx_thread = std::thread([this, &s] { tx_loop(s); });
    igtl::PlusClientOptions po;
    po.host = s.cfg.plus.host;
    po.port = static_cast<uint16_t>(s.cfg.plus.port);
    po.device_filter = s.cfg.plus.device.empty() ? "*" : s.cfg.plus.device;
    po.backoff_initial_ms = std::min(100, s.cfg.plus.reconnect_ms);
    po.backoff_max_ms = std::max(s.cfg.plus.reconnect_ms, po.backoff_initial_ms);
    po.backoff_max_ms = std::min(po.backoff_max_ms, runtime_.plus_backoff_max_ms);
    po.stall_timeout_ms = runtime_.plus_stall_timeout_ms;
    s.client = std::make_unique<igtl::PlusClient>(po);
    s.client->start([this, &s](igtl::Message&& m) { on_image(s, std::move(m)); },
                    [this, &s](igtl::LinkState st, const std::string& why) {
                      on_link_state(s, st, why);
                    });
    spdlog::info("[gateway] {}PLUS {}:{} (device '{}') -> Slicer port {} (device '{}')",
                 several ? "stream '" + s.cfg.name + "': " : std::string(), s.cfg.plus.host,
                 s.cfg.plus.port, po.device_filter, s.server->port(), s.cfg.slicer.device);
  }
  started_ = true;
  spdlog::info("[gateway] processor: {} | batching: max_batch {}, max_wait {} ms, overlap {}",
               processor_description_, dispatcher_->max_batch(), dopt.max_wait_ms,
               config_.batching.overlap ? "on" : "off");
  return Status::Ok();
}

void Gateway::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Upstream first, so every stage finishes what it already holds.
  for (auto& s : streams_)
    if (s->client) s->client->stop();
  for (auto& s : streams_) s->rx_slot.close();
  if (dispatcher_) dispatcher_->stop();  // submits what is queued, completes what is in flight
  for (auto& s : streams_) s->outbox.close();
  for (auto& s : streams_)
    if (s->tx_thread.joinable()) s->tx_thread.join();
  for (auto& s : streams_) {
    if (s->recorder) {
      Status st = s->recorder->finish();
      if (!st.ok()) spdlog::error("[record] {}", st.to_string());
    }
    if (s->server) s->server->stop();
    s->metrics.set_connected("plus", false);
    spdlog::info("[gateway] {}stopped: {} received, {} processed, {} sent",
                 streams_.size() > 1 ? "stream '" + s->cfg.name + "' " : std::string(),
                 s->frames_received.load(), s->frames_processed.load(), s->frames_sent.load());
  }
}

uint16_t Gateway::slicer_port(size_t stream) const {
  if (stream >= streams_.size()) return 0;
  const auto& s = streams_[stream];
  return s->server ? s->server->port() : 0;
}

std::vector<igtl::ClientStats> Gateway::slicer_clients(size_t stream) const {
  if (stream >= streams_.size() || !streams_[stream]->server) return {};
  return streams_[stream]->server->client_stats();
}

void Gateway::record_error(Stream& s, const char* stage, const std::exception& e) {
  s.errors.fetch_add(1, std::memory_order_relaxed);
  errors_.record(stage, e);
}

// --- RX (each stream's PLUS client thread) -----------------------------------------------------

void Gateway::on_image(Stream& s, igtl::Message&& message) {
  try {
    const int64_t now = monotonic_ns();
    Result<pipeline::Frame> frame = frame_from_image_message(message);
    if (!frame.ok()) {
      s.drop_bad_image->inc();
      spdlog::warn("[rx] {}image from '{}' dropped: {}",
                   streams_.size() > 1 ? s.cfg.name + ": " : std::string(), message.device_name,
                   frame.status().to_string());
      return;
    }
    frame->id = s.next_frame_id.fetch_add(1, std::memory_order_relaxed);
    frame->receive_time_ns = now;
    s.metrics.frame_received(now);
    s.frames_received.fetch_add(1, std::memory_order_relaxed);
    s.rx_slot.push(std::move(frame).value());
    s.depth_rx->set(static_cast<double>(s.rx_slot.size()));
    if (dispatcher_) dispatcher_->notify();
  } catch (const std::exception& e) {
    record_error(s, "rx", e);
  }
}

void Gateway::on_link_state(Stream& s, igtl::LinkState state, const std::string& why) {
  const bool up = state == igtl::LinkState::kConnected || state == igtl::LinkState::kStreaming ||
                  state == igtl::LinkState::kStalled;
  s.metrics.set_connected("plus", up);
  if (state == igtl::LinkState::kStreaming) return;  // every resumed frame would log
  spdlog::info("[rx] {}PLUS link {}{}{}", streams_.size() > 1 ? s.cfg.name + ": " : std::string(),
               igtl::link_state_name(state), why.empty() ? "" : ": ", why);
}

// --- dispatcher thread: before submit and on each result ----------------------------------------

bool Gateway::admit(Stream& s, const pipeline::Frame& frame) {
  s.depth_rx->set(static_cast<double>(s.rx_slot.size()));
  const int64_t age = monotonic_ns() - frame.receive_time_ns;
  if (age > static_cast<int64_t>(config_.queues.max_frame_age_ms) * 1'000'000) {
    s.drop_stale->inc();
    spdlog::debug("[process] {} frame {} dropped: {:.1f} ms old", s.cfg.name, frame.id,
                  ns_to_ms(age));
    return false;
  }
  // The dispatcher completes the stream's in-flight frames before a frame of a new size is
  // admitted, so resetting here never mixes sizes.
  if (frame.width != s.last_width || frame.height != s.last_height) {
    if (s.last_width != 0) {
      s.geometry_changes.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("[process] {}frame size changed {}x{} -> {}x{}: temporal state reset",
                   streams_.size() > 1 ? s.cfg.name + ": " : std::string(), s.last_width,
                   s.last_height, frame.width, frame.height);
    }
    s.processor->reset();
    s.last_width = frame.width;
    s.last_height = frame.height;
  }
  return true;
}

void Gateway::on_result(Stream& s, pipeline::Frame&& frame,
                        Result<pipeline::FrameResult>&& result) {
  try {
    const int64_t end = monotonic_ns();
    if (!result.ok()) {
      s.drop_process_error->inc();
      spdlog::warn("[process] {}frame {} failed: {}",
                   streams_.size() > 1 ? s.cfg.name + ": " : std::string(), frame.id,
                   result.status().to_string());
      return;
    }
    pipeline::FrameResult& r = result.value();
    pipeline::StageTimings& t = r.timings;
    // The processor's own time: from when it started the frame (submit for a pipelined
    // backend) to its result.
    const int64_t began = t.submit_ns ? std::min(t.submit_ns, t.start_ns ? t.start_ns : end)
                                      : (t.start_ns ? t.start_ns : end);
    if (t.start_ns == 0) t.start_ns = began;
    if (t.end_ns == 0) t.end_ns = end;
    if (t.total_ns == 0) t.total_ns = t.end_ns - began;
    s.stage_process->record_ns(t.end_ns - began, end);
    s.hop_rx_process->record_ns(began - frame.receive_time_ns, end);
    const int64_t parts[] = {t.preprocess_ns, t.detector_ns, t.encoder_ns, t.decoder_ns,
                             t.weights_ns,    t.quality_ns,  t.readback_ns};
    for (size_t k = 0; k < s.stage_parts.size(); ++k)
      if (parts[k] > 0) s.stage_parts[k]->record_ns(parts[k], end);
    s.frames_processed.fetch_add(1, std::memory_order_relaxed);
    s.detector_frames->count(r.detector_ran);  // detector skipping: the dashboard's tile

    if (s.recorder && !frame.pixels.empty()) s.recorder->submit(frame, r);
    if (s.index == 0 && !frame.pixels.empty()) {
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
    }
    OutputItem item;
    frame.pixels = {};  // TX needs geometry and times only
    item.frame = std::move(frame);
    item.result = std::move(r);
    item.result.low_res_logits = Tensor();
    item.enqueued_ns = monotonic_ns();
    s.outbox.push(std::move(item));
    s.depth_outbox->set(static_cast<double>(s.outbox.size()));
  } catch (const std::exception& e) {
    record_error(s, "process", e);
  }
}

// --- TX (each stream's thread) ------------------------------------------------------------------

void Gateway::tx_loop(Stream& s) {
  for (;;) {
    std::vector<OutputItem> items = s.outbox.drain(kWakeInterval);
    s.depth_outbox->set(0.0);
    for (OutputItem& item : items) {
      try {
        send_one(s, item);
      } catch (const std::exception& e) {
        record_error(s, "tx", e);
      }
    }
    try {
      sync_external_counters(s);
    } catch (const std::exception& e) {
      record_error(s, "tx", e);
    }
    if (items.empty() && s.outbox.closed()) return;
  }
}

void Gateway::send_one(Stream& s, OutputItem& item) {
  const int64_t start = monotonic_ns();
  std::vector<igtl::Message> messages = build_tx_messages(item, s.tx_options, start);
  for (const igtl::Message& m : messages) {
    Status st = s.server->broadcast(m);
    if (!st.ok()) {
      s.drop_encode_error->inc();
      spdlog::warn("[tx] {} for frame {} not sent: {}", m.device_name, item.result.frame_id,
                   st.to_string());
    }
  }
  const int64_t end = monotonic_ns();
  const int64_t rx_to_tx = end - item.frame.receive_time_ns;
  s.metrics.frame_sent(end, rx_to_tx);
  s.stage_tx->record_ns(end - start, end);
  s.hop_process_tx->record_ns(start - item.result.timings.end_ns, end);
  s.overhead->record_ns(rx_to_tx - item.result.timings.total_ns, end);
  s.metrics.set_visibility(to_monitor_state(item.result.state), end);
  s.frames_sent.fetch_add(1, std::memory_order_relaxed);
}

void Gateway::sync_external_counters(Stream& s) {
  if (s.client) {
    const igtl::PlusClientCounters c = s.client->counters();
    if (c.superseded > s.seen_superseded) {
      // Frames a PLUS burst superseded did arrive: they count as received for fps-in and for
      // the drop ratio (otherwise drops could exceed receptions), and as dropped.
      const uint64_t n = c.superseded - s.seen_superseded;
      s.metrics.drops("rx", "burst_superseded").inc(n);
      const int64_t now = monotonic_ns();
      for (uint64_t i = 0; i < n; ++i) s.metrics.frame_received(now);
      s.seen_superseded = c.superseded;
    }
    if (c.reconnects > s.seen_reconnects) {
      s.metrics.reconnects("plus").inc(c.reconnects - s.seen_reconnects);
      s.seen_reconnects = c.reconnects;
    }
    for (size_t i = 0; i < c.rejects.size(); ++i) {
      if (c.rejects[i] > s.seen_rejects[i]) {
        s.metrics
            .drops("rx", std::string("malformed_") +
                             igtl::reject_reason_name(static_cast<igtl::RejectReason>(i)))
            .inc(c.rejects[i] - s.seen_rejects[i]);
        s.seen_rejects[i] = c.rejects[i];
      }
    }
  }
  if (s.server) {
    const igtl::ServerCounters sc = s.server->counters();
    if (sc.dropped > s.seen_client_drops) {
      s.metrics.drops("tx", "client_queue_full").inc(sc.dropped - s.seen_client_drops);
      s.seen_client_drops = sc.dropped;
    }
    s.metrics.queue_depth("slicer_clients").set(static_cast<double>(s.server->client_count()));
  }
}

// --- statistics -----------------------------------------------------------------------------------

GatewayStats Gateway::stats(size_t stream) const {
  const Stream& s = *streams_.at(stream);
  GatewayStats st;
  st.stream = s.cfg.name;
  st.frames_received = s.frames_received.load();
  st.frames_processed = s.frames_processed.load();
  st.frames_sent = s.frames_sent.load();
  st.stage_errors = s.errors.load();
  st.geometry_changes = s.geometry_changes.load();
  st.rx_slot = s.rx_slot.stats();
  st.outbox = s.outbox.stats();
  if (s.client) st.plus = s.client->counters();
  if (s.server) st.slicer = s.server->counters();
  // This stream's series: labelled with its name, or the unlabelled ones of a single stream.
  const std::string want = s.metrics.stream();
  for (const monitor::FamilySnapshot& f : registry_.collect(monotonic_ns(), 1, "um_drops_total")) {
    for (const monitor::SeriesSnapshot& series : f.series) {
      if (label_value(series.labels, "stream") != want) continue;
      st.drop_counts.emplace_back(
          label_value(series.labels, "stage") + "/" + label_value(series.labels, "reason"),
          static_cast<uint64_t>(series.value));
    }
  }
  return st;
}

std::vector<GatewayStats> Gateway::all_stats() const {
  std::vector<GatewayStats> out;
  for (size_t i = 0; i < streams_.size(); ++i) out.push_back(stats(i));
  return out;
}

}  // namespace um::gateway
