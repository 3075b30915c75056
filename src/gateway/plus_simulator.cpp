// The PlusServer stand-in (plus_simulator.h): accept thread + streaming thread.
#include "gateway/plus_simulator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "core/clock.h"
#include "gateway/igtl_convert.h"
#include "igtl/codec.h"

namespace um::gateway {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

PlusSimulator::PlusSimulator(PlusSimulatorOptions options) : options_(std::move(options)) {}

PlusSimulator::~PlusSimulator() { stop(); }

Status PlusSimulator::start() {
  if (started_) return failed_precondition("simulator already started");
  if (!(options_.fps > 0.0 && options_.fps <= 1000.0))
    return invalid_argument("simulator fps " + std::to_string(options_.fps) +
                            " is out of range (0, 1000]");
  options_.source_options.fps = options_.fps;
  UM_ASSIGN_OR_RETURN(source_, make_frame_source(options_.source, options_.source_options));
  for (int i = 0; i < options_.preload_frames; ++i) {
    UM_ASSIGN_OR_RETURN(std::optional<SourceImage> img, source_->next());
    if (!img) break;
    preloaded_.push_back(std::move(*img));
  }
  UM_ASSIGN_OR_RETURN(listener_, igtl::Listener::listen(options_.host, options_.port));
  port_ = listener_.port();
  stop_ = false;
  started_ = true;
  accept_thread_ = std::thread([this] { accept_loop(); });
  stream_thread_ = std::thread([this] { stream_loop(); });
  spdlog::info("[simulator] PlusServer stand-in on {}:{} streaming '{}' from {} at {} fps",
               options_.host, port_, options_.device, source_->description(), options_.fps);
  return Status::Ok();
}

void PlusSimulator::stop() {
  if (!started_) return;
  stop_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  if (stream_thread_.joinable()) stream_thread_.join();
  listener_.close();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : clients_) c->socket.shutdown_both();
  clients_.clear();
  counters_.clients = 0;
  started_ = false;
}

PlusSimulatorCounters PlusSimulator::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  PlusSimulatorCounters c = counters_;
  c.clients = clients_.size();
  return c;
}

std::string PlusSimulator::source_description() const {
  return source_ ? source_->description() : "none";
}

void PlusSimulator::inject_raw(std::vector<uint8_t> bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  injected_.push_back(std::move(bytes));
}

void PlusSimulator::set_size(pipeline::FrameSize size) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_size_ = true;
  new_size_ = size;
}

void PlusSimulator::disconnect_clients() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : clients_) c->socket.shutdown_both();
  clients_.clear();
}

void PlusSimulator::accept_loop() {
  while (!stop_) {
    Result<igtl::Socket> s = listener_.accept(100);
    if (!s.ok()) {
      spdlog::warn("[simulator] accept failed: {}", s.status().to_string());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (!s->valid()) continue;  // timeout
    auto client = std::make_unique<Client>();
    client->socket = std::move(s).value();
    spdlog::info("[simulator] client {} connected", client->socket.peer_name());
    std::lock_guard<std::mutex> lock(mu_);
    clients_.push_back(std::move(client));
    ++counters_.clients_accepted;
  }
}

// Reads whatever clients sent: a version-2 message switches that client to version-2 replies
// (PlusServer's rule); a closed or broken connection removes the client. Caller holds mu_.
void PlusSimulator::poll_clients() {
  uint8_t buf[4096];
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& c = **it;
    bool drop = false;
    for (;;) {
      Result<size_t> n = c.socket.recv_now(buf, sizeof buf);
      if (!n.ok()) {
        drop = true;
        break;
      }
      if (*n == 0) break;
      c.reader.feed(buf, *n);
    }
    igtl::Message m;
    for (;;) {
      igtl::ReadOutcome o = c.reader.next(m);
      if (o.state == igtl::ReadState::kNeedMore) break;
      if (o.state == igtl::ReadState::kMessage && o.header_version == 2 && c.version != 2) {
        c.version = 2;
        ++counters_.v2_clients;
        spdlog::info("[simulator] client {} speaks header version 2: switching",
                     c.socket.peer_name());
      }
      if (o.state == igtl::ReadState::kRejected && o.close_connection) {
        drop = true;
        break;
      }
    }
    if (drop) {
      spdlog::info("[simulator] client {} disconnected", c.socket.peer_name());
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

// Encodes once per header version and writes to every client; a client whose socket fails is
// dropped. Caller holds mu_.
void PlusSimulator::send_to_all(const igtl::Message& message, bool is_frame) {
  std::vector<uint8_t> wire[3];
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& c = **it;
    std::vector<uint8_t>& bytes = wire[c.version];
    if (bytes.empty()) {
      igtl::Message copy = message;
      copy.header_version = c.version;
      Result<std::vector<uint8_t>> enc = igtl::encode(copy);
      if (!enc.ok()) {
        spdlog::error("[simulator] cannot encode {}: {}", message.type, enc.status().to_string());
        return;
      }
      bytes = std::move(enc).value();
    }
    Status s = c.socket.send_all(bytes.data(), bytes.size(), 2000);
    if (!s.ok()) {
      spdlog::info("[simulator] client {} dropped: {}", c.socket.peer_name(), s.to_string());
      ++counters_.client_errors;
      it = clients_.erase(it);
      continue;
    }
    if (is_frame) ++counters_.frames_sent;
    else ++counters_.keepalives;
    ++it;
  }
}

Result<pipeline::Frame> PlusSimulator::make_frame() {
  std::optional<SourceImage> img;
  if (!preloaded_.empty()) {
    img = preloaded_[preload_next_++ % preloaded_.size()];
  } else {
    UM_ASSIGN_OR_RETURN(img, source_->next());
  }
  if (!img) return not_found("source exhausted");
  pipeline::Frame f;
  f.id = next_id_++;
  f.width = img->width;
  f.height = img->height;
  f.pixels = std::move(img->pixels);
  f.geometry = options_.geometry;
  f.device_name = options_.device;
  f.source_timestamp_ns = wall_clock_ns();  // acquisition time, as PlusServer stamps it
  return f;
}

void PlusSimulator::stream_loop() {
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / options_.fps));
  const auto keepalive = std::chrono::milliseconds(options_.keepalive_ms);
  std::mt19937_64 rng(options_.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);  // burst timing only: no need to be
                                                          // identical across platforms
  std::vector<pipeline::Frame> held;  // frames of a burst in progress
  int burst_target = 0;
  bool exhausted = false;
  auto next_tick = Clock::now();
  auto last_send = Clock::now();
  int64_t generated = 0;

  while (!stop_) {
    std::vector<std::vector<uint8_t>> injected;
    {
      std::lock_guard<std::mutex> lock(mu_);
      poll_clients();
      injected.swap(injected_);
      if (pending_size_) {
        pending_size_ = false;
        Status s = source_->set_size(new_size_);
        if (!s.ok()) spdlog::warn("[simulator] set_size: {}", s.to_string());
      }
      for (const auto& bytes : injected)
        for (auto& c : clients_) c->socket.send_all(bytes.data(), bytes.size(), 2000).ignore_error();
    }
    auto now = Clock::now();
    const bool may_stream = !paused_ && !exhausted &&
                            (options_.max_frames < 0 || generated < options_.max_frames);
    if (may_stream && now >= next_tick) {
      next_tick += period;
      if (next_tick < now - period) next_tick = now;  // never "catch up" after a stall
      Result<pipeline::Frame> f = make_frame();
      if (!f.ok()) {
        if (f.status().code() != StatusCode::kNotFound || f.status().message() != "source exhausted")
          spdlog::error("[simulator] {}", f.status().to_string());
        else
          spdlog::info("[simulator] source exhausted after {} frames", generated);
        exhausted = true;
      } else {
        ++generated;
        held.push_back(std::move(f).value());
        std::lock_guard<std::mutex> lock(mu_);
        ++counters_.frames_generated;
        if (burst_target == 0 && options_.burst_max >= 2 && unit(rng) < options_.burst_probability) {
          burst_target = 2 + static_cast<int>(unit(rng) * (options_.burst_max - 1));
          ++counters_.bursts;
        }
        const bool last_frame = options_.max_frames >= 0 && generated >= options_.max_frames;
        if (static_cast<int>(held.size()) >= std::max(1, burst_target) || last_frame) {
          for (const pipeline::Frame& frame : held) send_to_all(frame_to_image_message(frame, 1), true);
          held.clear();
          burst_target = 0;
          last_send = Clock::now();
        }
      }
    }
    now = Clock::now();
    if (now - last_send >= keepalive) {
      std::lock_guard<std::mutex> lock(mu_);
      // PlusServer's idle keep-alive: STATUS OK with an empty device name.
      igtl::Message ka = igtl::make_status_message("", 1, "");
      ka.timestamp = igtl::timestamp_from_ns(wall_clock_ns());
      send_to_all(ka, false);
      last_send = now;
    }
    auto wake = std::min(next_tick, now + std::chrono::milliseconds(20));
    if (!may_stream) wake = now + std::chrono::milliseconds(20);
    std::this_thread::sleep_until(wake);
  }
}

}  // namespace um::gateway
