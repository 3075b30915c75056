// File: src/stress/slicer_receiver.h
// Purpose: the Slicer side of one stream in `ultramotion stress`: an OpenIGTLink client of the
// gateway's Slicer port that measures the end-to-end latency of every labelmap it receives:
//   latency = receive wall time - the labelmap's header timestamp,
// where the gateway stamps BoneMask with the SOURCE frame's acquisition time (igtl_convert.cpp),
// which the PLUS simulator took from this machine's UTC clock when it made the frame. So the
// figure covers simulator send, network, RX, queueing, inference, TX and our receive.
//
// It connects (retrying until the gateway listens), says hello with one header-version-2 STATUS
// (the gateway then sends metadata) and checks every message's CRC; a rejected message is a
// gateway bug and is counted. disconnect() drops the connection for a while (fault injection).
//
// Usage:
//   SlicerReceiver rx("127.0.0.1", port, "BoneMask");
//   rx.start();
//   ... rx.counters().labelmaps ...; auto lat = rx.latencies_between(t0_wall, t1_wall);
//   rx.stop();
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace um::stress {

struct LabelmapSample {
  int64_t received_wall_ns = 0;  // UTC
  int64_t latency_ns = 0;        // received - header timestamp (acquisition time)
};

struct ReceiverCounters {
  uint64_t connects = 0;
  uint64_t labelmaps = 0;        // IMAGE messages with the expected device name
  uint64_t other_messages = 0;   // STATUS (visibility changes) and anything else
  uint64_t rejected = 0;         // malformed messages FROM the gateway (CRC, framing)
  uint64_t bytes = 0;
  bool connected = false;
  int64_t last_labelmap_wall_ns = 0;   // receive time of the newest labelmap (0: none)
  int64_t last_source_ns = 0;          // acquisition time of the newest labelmap
};

class SlicerReceiver {
 public:
  SlicerReceiver(std::string host, int port, std::string device);
  ~SlicerReceiver();  // stop()
  SlicerReceiver(const SlicerReceiver&) = delete;
  SlicerReceiver& operator=(const SlicerReceiver&) = delete;

  void start();
  void stop();  // joins the thread
  // Closes the connection now and reconnects after pause_ms (a Slicer restart).
  void disconnect(int pause_ms);

  ReceiverCounters counters() const;
  // Latencies of the labelmaps received in [from_wall_ns, to_wall_ns).
  std::vector<int64_t> latencies_between(int64_t from_wall_ns, int64_t to_wall_ns) const;
  uint64_t labelmaps_between(int64_t from_wall_ns, int64_t to_wall_ns) const;

 private:
  void run();

  std::string host_;
  int port_;
  std::string device_;
  std::atomic<bool> stop_{false};
  std::atomic<int> disconnect_pause_ms_{-1};  // >= 0: a disconnect was requested
  std::thread thread_;

  mutable std::mutex mu_;
  ReceiverCounters counters_;             // guarded by mu_
  std::vector<LabelmapSample> samples_;   // guarded by mu_, in receive order
};

}  // namespace um::stress
