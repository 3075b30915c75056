// File: tests/igtl/net_test_util.h
// Purpose: helpers shared by the igtl network tests: bounded waiting (never a timing assertion:
// a condition either becomes true within a generous bound or the test fails), raw peers, and
// deterministic test images.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include "igtl/codec.h"
#include "igtl/socket.h"
#include "igtl/stream_reader.h"

namespace um::igtl::test {

// Polls `pred` every 2 ms until it holds or `timeout_ms` passes; returns the final value.
inline bool wait_until(const std::function<bool()>& pred, int timeout_ms = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

// A free TCP port on 127.0.0.1 (bound then released; tests use it at once).
inline uint16_t free_port() {
  auto l = Listener::listen("127.0.0.1", 0);
  return l.ok() ? l->port() : 0;
}

inline Status send_message(Socket& s, const Message& m) {
  auto wire = encode(m);
  if (!wire.ok()) return wire.status();
  return s.send_all(wire->data(), wire->size(), 5000);
}

// Reads from `s` until one message is framed (or timeout): for raw test peers.
inline Result<Message> read_message(Socket& s, StreamReader& reader, int timeout_ms = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  uint8_t buf[65536];
  Message m;
  for (;;) {
    ReadOutcome o = reader.next(m);
    if (o.state == ReadState::kMessage) return m;
    if (o.state == ReadState::kRejected) return o.status;
    if (std::chrono::steady_clock::now() > deadline) return unavailable("read_message timed out");
    auto n = s.recv_some(buf, sizeof buf, 20);
    if (!n.ok()) return n.status();
    reader.feed(buf, *n);
  }
}

// A width x height uint8 frame with a deterministic pattern and oblique-free geometry.
inline Message test_frame(const std::string& device, uint32_t w, uint32_t h, int frame_id) {
  ImageGeometry g;
  g.size = {w, h, 1};
  g.spacing = {0.2, 0.25, 1.0};
  g.origin = {-3.0, 4.0, 0.5};
  std::vector<uint8_t> px(size_t{w} * h);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 31 + frame_id);
  Message m = make_image_message(device, g, ScalarType::kUint8, 1, std::move(px),
                                 1'700'000'000'000'000'000LL + frame_id * 40'000'000LL);
  m.metadata.push_back({"FrameId", std::to_string(frame_id)});
  return m;
}

}  // namespace um::igtl::test
