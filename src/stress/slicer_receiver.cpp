// The Slicer-side receiver of `ultramotion stress` (slicer_receiver.h).
#include "stress/slicer_receiver.h"

#include <algorithm>
#include <chrono>

#include "core/clock.h"
#include "igtl/codec.h"
#include "igtl/header.h"
#include "igtl/socket.h"
#include "igtl/stream_reader.h"

namespace um::stress {
namespace {

constexpr int kConnectTimeoutMs = 500;
constexpr int kRetryMs = 100;
constexpr int kPollMs = 50;

bool send_hello(igtl::Socket& s) {
  igtl::Message hello = igtl::make_status_message("UltraMotionStress", 1, "stress receiver");
  hello.header_version = 2;  // the gateway answers with version 2 (metadata) from now on
  hello.timestamp = igtl::timestamp_from_ns(wall_clock_ns());
  auto wire = igtl::encode(hello);
  return wire.ok() && s.send_all(wire->data(), wire->size(), 2000).ok();
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

SlicerReceiver::SlicerReceiver(std::string host, int port, std::string device)
    : host_(std::move(host)), port_(port), device_(std::move(device)) {}

SlicerReceiver::~SlicerReceiver() { stop(); }

void SlicerReceiver::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void SlicerReceiver::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void SlicerReceiver::disconnect(int pause_ms) { disconnect_pause_ms_ = std::max(0, pause_ms); }

ReceiverCounters SlicerReceiver::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

std::vector<int64_t> SlicerReceiver::latencies_between(int64_t from_wall_ns,
                                                       int64_t to_wall_ns) const {
  std::vector<int64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const LabelmapSample& s : samples_)
    if (s.received_wall_ns >= from_wall_ns && s.received_wall_ns < to_wall_ns)
      out.push_back(s.latency_ns);
  return out;
}

uint64_t SlicerReceiver::labelmaps_between(int64_t from_wall_ns, int64_t to_wall_ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<uint64_t>(std::count_if(samples_.begin(), samples_.end(), [&](const auto& s) {
    return s.received_wall_ns >= from_wall_ns && s.received_wall_ns < to_wall_ns;
  }));
}

void SlicerReceiver::run() {
  std::vector<uint8_t> buf(1 << 18);
  while (!stop_) {
    const int pause = disconnect_pause_ms_.exchange(-1);
    if (pause >= 0) {  // requested while not connected: still honour the pause
      for (int waited = 0; waited < pause && !stop_; waited += kPollMs) sleep_ms(kPollMs);
      continue;
    }
    Result<igtl::Socket> sock =
        igtl::Socket::connect(host_, static_cast<uint16_t>(port_), kConnectTimeoutMs);
    if (!sock.ok() || !send_hello(*sock)) {
      sleep_ms(kRetryMs);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.connects;
      counters_.connected = true;
    }
    igtl::DecodeOptions d;
    d.decode_content = false;  // the header timestamp and device are all we need
    igtl::StreamReader reader(d);
    bool open = true;
    while (open && !stop_ && disconnect_pause_ms_.load() < 0) {
      Result<size_t> n = sock->recv_some(buf.data(), buf.size(), kPollMs);
      if (!n.ok()) break;  // the gateway closed (it stopped, or restarts)
      if (*n == 0) continue;
      const int64_t now = wall_clock_ns();
      reader.feed(buf.data(), *n);
      std::lock_guard<std::mutex> lock(mu_);
      counters_.bytes += *n;
      igtl::Message m;
      for (;;) {
        igtl::ReadOutcome o = reader.next(m);
        if (o.state == igtl::ReadState::kNeedMore) break;
        if (o.state == igtl::ReadState::kRejected) {
          ++counters_.rejected;
          if (o.close_connection) open = false;
          if (!open) break;
          continue;
        }
        if (m.type == "IMAGE" && m.device_name == device_) {
          const int64_t source_ns = igtl::timestamp_to_ns(m.timestamp);
          samples_.push_back({now, now - source_ns});
          ++counters_.labelmaps;
          counters_.last_labelmap_wall_ns = now;
          counters_.last_source_ns = std::max(counters_.last_source_ns, source_ns);
        } else {
          ++counters_.other_messages;
        }
      }
    }
    sock->close();
    std::lock_guard<std::mutex> lock(mu_);
    counters_.connected = false;
  }
}

}  // namespace um::stress
