// PlusServer client: connect / back-off / drain bursts / filter / stall detection. The thread
// wakes at least every kPollMs to notice stop() and to evaluate the stall timer.
#include "igtl/plus_client.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "igtl/codec.h"
#include "igtl/socket.h"

namespace um::igtl {
namespace {

constexpr int kPollMs = 20;
constexpr size_t kRecvChunk = 1 << 18;   // 256 KiB: one 558x422 frame per read when it can
constexpr int kMaxDrainReads = 64;       // bounded drain so a firehose cannot starve the parser

int64_t ms_since(int64_t t_ns) { return (monotonic_ns() - t_ns) / 1000000; }

}  // namespace

const char* link_state_name(LinkState s) {
  switch (s) {
    case LinkState::kStopped: return "stopped";
    case LinkState::kConnecting: return "connecting";
    case LinkState::kConnected: return "connected";
    case LinkState::kStreaming: return "streaming";
    case LinkState::kStalled: return "stalled";
  }
  return "unknown";
}

PlusClient::PlusClient(PlusClientOptions options) : options_(std::move(options)) {}

PlusClient::~PlusClient() { stop(); }

void PlusClient::start(ImageCallback on_image, StateCallback on_state) {
  if (thread_.joinable()) return;
  on_image_ = std::move(on_image);
  on_state_ = std::move(on_state);
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void PlusClient::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

PlusClientCounters PlusClient::counters() const {
  std::lock_guard<std::mutex> lock(counters_mu_);
  return counters_;
}

bool PlusClient::device_matches(const std::string& device) const {
  return options_.device_filter == "*" || device == options_.device_filter;
}

void PlusClient::set_state(LinkState s, const std::string& why) {
  if (state_.exchange(s) == s) return;
  spdlog::debug("igtl client {}:{}: {} ({})", options_.host, options_.port, link_state_name(s), why);
  if (on_state_) on_state_(s, why);
}

void PlusClient::run() {
  std::vector<uint8_t> buf(kRecvChunk);
  StreamReader reader(options_.decode);
  int backoff_ms = options_.backoff_initial_ms;
  bool ever_connected = false;
  // Sleeps in small slices so stop() is honoured promptly.
  auto sleep_ms = [this](int ms) {
    const int64_t until = monotonic_ns() + int64_t{ms} * 1000000;
    while (!stop_ && monotonic_ns() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, kPollMs)));
  };

  while (!stop_) {
    set_state(LinkState::kConnecting, "connecting");
    auto sock = Socket::connect(options_.host, options_.port, options_.connect_timeout_ms);
    if (!sock.ok()) {
      {
        std::lock_guard<std::mutex> lock(counters_mu_);
        ++counters_.connect_failures;
      }
      set_state(LinkState::kConnecting, sock.status().message());
      sleep_ms(backoff_ms);
      backoff_ms = std::min(backoff_ms * 2, options_.backoff_max_ms);
      continue;
    }
    backoff_ms = options_.backoff_initial_ms;
    Socket s = std::move(sock).value();
    {
      std::lock_guard<std::mutex> lock(counters_mu_);
      ++counters_.connects;
      if (ever_connected) ++counters_.reconnects;
    }
    ever_connected = true;
    reader.reset();
    set_state(LinkState::kConnected, "connected to " + s.peer_name());

    std::string end_reason = "stopped";
    if (options_.send_v2_hello) {
      Message hello = make_status_message(options_.hello_device, 1, "UltraMotion client");
      hello.header_version = 2;
      hello.timestamp = timestamp_from_ns(wall_clock_ns());
      std::vector<uint8_t> wire;
      Status st = encode_into(hello, wire);
      if (st.ok()) st = s.send_all(wire.data(), wire.size(), options_.connect_timeout_ms);
      if (!st.ok()) end_reason = "sending the version-2 hello: " + st.message();
    }

    int64_t last_image_ns = monotonic_ns();
    int64_t last_bytes_ns = monotonic_ns();
    bool open = end_reason == "stopped";
    while (open && !stop_) {
      auto n = s.recv_some(buf.data(), buf.size(), kPollMs);
      bool peer_gone = false;
      uint64_t got = 0;
      if (!n.ok()) {
        end_reason = n.status().message();
        peer_gone = true;
      } else if (*n > 0) {
        got += *n;
        reader.feed(buf.data(), *n);
        // Drain the burst: take everything already readable before parsing, so only the newest
        // frame of the burst is delivered.
        for (int i = 0; i < kMaxDrainReads; ++i) {
          auto more = s.recv_now(buf.data(), buf.size());
          if (!more.ok()) {
            end_reason = more.status().message();
            peer_gone = true;
            break;
          }
          if (*more == 0) break;
          got += *more;
          reader.feed(buf.data(), *more);
        }
      }
      if (got) last_bytes_ns = monotonic_ns();

      std::optional<Message> newest;
      uint64_t superseded = 0, filtered = 0, others = 0, messages = 0;
      uint16_t server_version = 0;
      bool close_now = false;
      Message m;
      for (;;) {
        ReadOutcome o = reader.next(m);
        if (o.state == ReadState::kNeedMore) break;
        if (o.state == ReadState::kRejected) {
          spdlog::warn("igtl client: rejected message ({}): {}", reject_reason_name(o.reason),
                       o.status.message());
          if (o.close_connection) {
            close_now = true;
            end_reason = "closing after " + std::string(reject_reason_name(o.reason)) + ": " +
                         o.status.message();
            break;
          }
          continue;
        }
        ++messages;
        server_version = o.header_version;
        const bool is_image = std::holds_alternative<ImageContent>(m.content);
        if (is_image && device_matches(m.device_name)) {
          if (newest) ++superseded;
          newest = std::move(m);
        } else {
          if (is_image) ++filtered; else ++others;
          if (on_message_) on_message_(m);
        }
      }
      if (peer_gone && !close_now) {
        ReadOutcome o = reader.finish();  // counts a message cut off by the close
        if (o.state == ReadState::kRejected) end_reason += " (" + o.status.message() + ")";
      }
      {
        std::lock_guard<std::mutex> lock(counters_mu_);
        counters_.bytes += got;
        counters_.messages += messages;
        counters_.superseded += superseded;
        counters_.filtered_out += filtered;
        counters_.other_messages += others;
        if (newest) ++counters_.images;
        if (close_now) ++counters_.closed_by_reader;
        if (server_version) counters_.server_header_version = server_version;
        counters_.rejects = reader.rejects();
      }
      if (newest) {
        last_image_ns = monotonic_ns();
        set_state(LinkState::kStreaming, "image '" + newest->device_name + "'");
        if (on_image_) on_image_(std::move(*newest));
      }
      if (peer_gone || close_now) break;
      if (state_.load() != LinkState::kStalled && ms_since(last_image_ns) > options_.stall_timeout_ms) {
        {
          std::lock_guard<std::mutex> lock(counters_mu_);
          ++counters_.stalls;
        }
        set_state(LinkState::kStalled, "no '" + options_.device_filter + "' image for " +
                                           std::to_string(options_.stall_timeout_ms) + " ms");
      }
      if (options_.silence_reconnect_ms > 0 && ms_since(last_bytes_ns) > options_.silence_reconnect_ms) {
        end_reason = "no data at all for " + std::to_string(options_.silence_reconnect_ms) + " ms";
        break;
      }
    }
    s.close();
    if (stop_) break;
    spdlog::info("igtl client {}:{}: connection ended: {}", options_.host, options_.port, end_reason);
    set_state(LinkState::kConnecting, end_reason);
    sleep_ms(options_.backoff_initial_ms);  // never spin on a peer that closes at once
  }
  set_state(LinkState::kStopped, "stopped");
}

}  // namespace um::igtl
