// File: src/igtl/plus_client.h
// Purpose: the receiving end of the gateway: an OpenIGTLink client for PlusServer (or any
// IMAGE sender). One background thread connects, reconnects forever with exponential back-off,
// frames and validates messages (stream_reader.h), filters images by device name, drains bursts
// (everything readable is parsed first; only the NEWEST matching image of a burst is delivered,
// the others are counted as superseded), and watches for stalls.
//
// Protocol behaviour: on every (re)connect the client sends one header-version-2 STATUS (OK)
// message, because PlusServer answers with version-1 headers (no metadata) until a client sends
// it a version-2 message. PlusServer's keep-alive STATUS messages (~every 0.25 s) keep the link
// "alive" but do not count as frames: a stall is "no matching IMAGE for stall_timeout_ms".
// A connection that is completely silent for silence_reconnect_ms is presumed dead (cable pulled,
// no FIN) and reconnected.
//
// Threading: callbacks run on the client thread; keep them short (copy/move the frame into a
// queue). start()/stop() from one owner thread; counters()/state() from any thread.
// Usage:
//   PlusClientOptions o; o.host = "127.0.0.1"; o.port = 18944;   // device_filter "Image_Reference"
//   PlusClient client(o);
//   client.start([&](Message&& m) { rx.push(std::move(m)); },              // m holds ImageContent
//                [&](LinkState s, const std::string& why) { log(s, why); });
//   ...; client.stop();   // joins the thread, closes the socket
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "igtl/message.h"
#include "igtl/stream_reader.h"

namespace um::igtl {

enum class LinkState : uint8_t {
  kStopped,     // not started / stopped
  kConnecting,  // trying to connect (or waiting for the back-off to expire)
  kConnected,   // connected, no matching image yet
  kStreaming,   // matching images arriving
  kStalled,     // connected but no matching image for stall_timeout_ms
};
const char* link_state_name(LinkState s);

struct PlusClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 18944;
  std::string device_filter = "Image_Reference";  // exact device name, or "*" for any
  int stall_timeout_ms = 1000;
  int silence_reconnect_ms = 5000;                // 0 = never reconnect on silence
  int connect_timeout_ms = 1000;
  int backoff_initial_ms = 100;                   // doubles per failed attempt ...
  int backoff_max_ms = 5000;                      // ... up to this
  bool send_v2_hello = true;                      // the version-2 STATUS on connect
  std::string hello_device = "UltraMotion";
  DecodeOptions decode;                           // CRC check, max body size
};

struct PlusClientCounters {
  uint64_t connects = 0;           // successful connections
  uint64_t reconnects = 0;         // connections after the first
  uint64_t connect_failures = 0;
  uint64_t bytes = 0;
  uint64_t messages = 0;           // all valid messages framed
  uint64_t images = 0;             // matching images delivered to the callback
  uint64_t superseded = 0;         // matching images dropped because a newer one was in the burst
  uint64_t filtered_out = 0;       // images from other devices
  uint64_t other_messages = 0;     // STATUS keep-alives, STRING, ...
  uint64_t stalls = 0;             // transitions into kStalled
  uint64_t closed_by_reader = 0;   // connections closed because of a closing rejection
  RejectCounts rejects{};          // by RejectReason
  uint16_t server_header_version = 0;  // of the last message received
};

class PlusClient {
 public:
  using ImageCallback = std::function<void(Message&&)>;
  using StateCallback = std::function<void(LinkState, const std::string& reason)>;
  // Optional: every non-image (or filtered-out) valid message, e.g. for igtl-dump.
  using MessageCallback = std::function<void(const Message&)>;

  explicit PlusClient(PlusClientOptions options);
  ~PlusClient();  // stop()
  PlusClient(const PlusClient&) = delete;
  PlusClient& operator=(const PlusClient&) = delete;

  void set_message_callback(MessageCallback cb) { on_message_ = std::move(cb); }  // before start
  // Starts the client thread. Calling start() twice without stop() is a no-op.
  void start(ImageCallback on_image, StateCallback on_state = nullptr);
  // Stops and joins the thread (returns within ~100 ms); idempotent.
  void stop();

  LinkState state() const { return state_.load(); }
  PlusClientCounters counters() const;
  const PlusClientOptions& options() const { return options_; }

 private:
  void run();
  void set_state(LinkState s, const std::string& why);
  bool device_matches(const std::string& device) const;

  PlusClientOptions options_;
  ImageCallback on_image_;
  StateCallback on_state_;
  MessageCallback on_message_;
  std::atomic<bool> stop_{false};
  std::atomic<LinkState> state_{LinkState::kStopped};
  std::thread thread_;
  mutable std::mutex counters_mu_;
  PlusClientCounters counters_;  // guarded by counters_mu_
};

}  // namespace um::igtl
