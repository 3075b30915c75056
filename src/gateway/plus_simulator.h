// File: src/gateway/plus_simulator.h
// Purpose: a stand-in for PlusServer, for the demo, the tests and `ultramotion simulate-plus`.
// It behaves the way SPEC.md section 2 says PlusServer does:
//   - an OpenIGTLink server streaming IMAGE messages named `Image_Reference` (configurable);
//   - the header timestamp is the acquisition time (UTC wall clock when the frame was made);
//   - frames sometimes arrive in bursts: with probability burst_probability a frame is held and
//     2..burst_max frames then go out back to back (each keeps its own acquisition time);
//   - STATUS keep-alives about every keepalive_ms while no frame was sent;
//   - header version 1 to each client until that client sends a version-2 message.
// Frames come from a FrameSource (moving phantom or an image folder). Geometry: spacing and
// image-centre position are options, so receivers can check they are carried through.
//
// Threads: one accept thread and one streaming thread; clients are served in turn (a client
// that does not read blocks the stream after the socket buffers fill, as with a real PLUS).
// Fault injection for tests: inject_raw() sends arbitrary bytes to every client, set_size()
// changes the frame size mid-stream, set_paused() stops frames (keep-alives continue),
// disconnect_clients() drops every connection.
//
// Usage:
//   PlusSimulatorOptions o; o.port = 18944; o.fps = 25;
//   PlusSimulator sim(o);
//   UM_RETURN_IF_ERROR(sim.start());      // sim.port(): bound port (0 -> ephemeral)
//   ...; sim.stop();
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "gateway/frame_source.h"
#include "igtl/socket.h"
#include "igtl/stream_reader.h"
#include "pipeline/frame.h"

namespace um::gateway {

struct PlusSimulatorOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 18944;  // 0 = ephemeral
  std::string device = "Image_Reference";
  std::string source = "phantom";  // "phantom" or a folder of PNG/JPEG images
  FrameSourceOptions source_options;
  double fps = 25.0;
  int64_t max_frames = -1;           // stop streaming after this many frames (-1: endless)
  double burst_probability = 0.1;    // chance that a frame starts a burst
  int burst_max = 3;                 // frames in a burst: 2..burst_max
  int keepalive_ms = 250;
  pipeline::ImageGeometry geometry = default_geometry();  // spacing, direction, image centre
  uint64_t seed = 1;                 // bursts
  // > 0: read this many frames from the source at start and cycle through them, so the frame
  // rate is not limited by phantom rendering or image decoding (maximum-rate benchmarks).
  int preload_frames = 0;

  static pipeline::ImageGeometry default_geometry() {
    pipeline::ImageGeometry g;
    g.spacing = {0.2f, 0.2f, 1.0f};  // a typical B-mode pixel size
    g.origin = {0.0f, 0.0f, 0.0f};
    return g;
  }
};

struct PlusSimulatorCounters {
  uint64_t clients_accepted = 0;
  uint64_t frames_generated = 0;
  uint64_t frames_sent = 0;       // IMAGE messages written (summed over clients)
  uint64_t bursts = 0;
  uint64_t keepalives = 0;        // STATUS messages written (summed over clients)
  uint64_t v2_clients = 0;        // clients switched to header version 2
  uint64_t client_errors = 0;     // clients dropped after a send/receive failure
  size_t clients = 0;             // connected now
};

class PlusSimulator {
 public:
  explicit PlusSimulator(PlusSimulatorOptions options);
  ~PlusSimulator();  // stop()
  PlusSimulator(const PlusSimulator&) = delete;
  PlusSimulator& operator=(const PlusSimulator&) = delete;

  // Opens the frame source, binds the port (kUnavailable names it) and starts streaming.
  Status start();
  void stop();  // idempotent; closes every client
  uint16_t port() const { return port_; }
  PlusSimulatorCounters counters() const;
  std::string source_description() const;

  // --- fault injection (tests, stress) ----------------------------------------------------
  void inject_raw(std::vector<uint8_t> bytes);       // sent to every client before the next frame
  void set_size(pipeline::FrameSize size);           // phantom: next frames have this size
  void set_paused(bool paused) { paused_ = paused; }  // no frames; keep-alives continue
  void disconnect_clients();

 private:
  struct Client {
    igtl::Socket socket;
    igtl::StreamReader reader;
    uint16_t version = 1;  // header version we answer with
  };
  void accept_loop();
  void stream_loop();
  void poll_clients();  // reads what clients sent: version switch, disconnects
  void send_to_all(const igtl::Message& message, bool is_frame);
  Result<pipeline::Frame> make_frame();

  PlusSimulatorOptions options_;
  std::unique_ptr<FrameSource> source_;
  igtl::Listener listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  bool started_ = false;
  std::thread accept_thread_;
  std::thread stream_thread_;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Client>> clients_;  // guarded by mu_
  std::vector<std::vector<uint8_t>> injected_;    // guarded by mu_
  bool pending_size_ = false;                     // guarded by mu_
  pipeline::FrameSize new_size_;                  // guarded by mu_
  PlusSimulatorCounters counters_;                // guarded by mu_
  uint64_t next_id_ = 1;                          // stream thread only
  std::vector<SourceImage> preloaded_;            // stream thread only (after start)
  size_t preload_next_ = 0;                       // stream thread only
};

}  // namespace um::gateway
