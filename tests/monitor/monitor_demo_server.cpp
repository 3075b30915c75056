// File: tests/monitor/monitor_demo_server.cpp
// Purpose: a small program that serves the real dashboard while a loop does actual, timed work,
// for the browser test (dashboard_browser_test.py) and for looking at the page by hand:
//   build-x/tests/monitor/monitor_demo_server --port 8050 [--synthetic] [--seconds 60]
// It prints "PORT <n>" once listening. Every figure it records is measured with the monotonic
// clock around real work (sleeps of varying length, image synthesis): stage latencies, hops,
// RX->TX, fps; drops are real skipped frames; the visibility state follows the synthetic
// "bone"'s contrast. Until the gateway exists this stands in for `ultramotion demo`.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "monitor/detector_frames.h"
#include "monitor/http_server.h"
#include "monitor/kpi_logger.h"
#include "monitor/monitor.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

using um::monotonic_ns;
namespace mon = um::monitor;

// Sleeps for `ms` and returns how long it really took (ns).
int64_t timed_sleep(double ms) {
  const int64_t t0 = monotonic_ns();
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
  return monotonic_ns() - t0;
}

// A speckled gray frame with a bright arc (the "bone") whose contrast drifts over time.
void synth_frame(int w, int h, int frame, std::vector<uint8_t>& gray, std::vector<uint8_t>& mask,
                 double contrast) {
  uint32_t seed = 2166136261u ^ static_cast<uint32_t>(frame);
  const double cx = w * (0.5 + 0.15 * std::sin(frame * 0.03)), cy = h * 0.9;
  const double r = h * 0.45;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      seed = seed * 1664525u + 1013904223u;
      const double speckle = 40.0 + 30.0 * ((seed >> 24) / 255.0) * (1.0 - y / (2.0 * h));
      const double d = std::hypot(x - cx, y - cy) - r;
      const bool on_arc = std::fabs(d) < 7.0 && y < cy - 0.3 * r;
      const size_t i = static_cast<size_t>(y) * w + x;
      gray[i] = static_cast<uint8_t>(std::min(255.0, speckle + (on_arc ? contrast : 0.0)));
      mask[i] = on_arc && contrast > 60 ? 1 : 0;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  double seconds = 120;
  bool synthetic = false;
  std::string kpi_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
    else if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--synthetic") synthetic = true;
    else if (a == "--kpi-log" && i + 1 < argc) kpi_path = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--port N] [--seconds S] [--synthetic] [--kpi-log F]\n",
                   argv[0]);
      return 2;
    }
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  mon::MonitorOptions opts;
  opts.sample_period = std::chrono::milliseconds(250);
  mon::Monitor monitor(opts);
  monitor.set_config_json(R"({"source":"monitor_demo_server","target_fps":25,)"
                          R"("stages":["preprocess","dfine","mobilesam","weights","tx"],)"
                          R"("dashboard":{"port":)" + std::to_string(port) + "}}");
  if (synthetic) monitor.set_synthetic_weights(true, "demo server: no model, timed sleeps only");
  mon::DashboardServer http(monitor, {.host = "127.0.0.1", .port = port});
  if (um::Status s = http.start(); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
    return 1;
  }
  std::unique_ptr<mon::KpiLogger> kpi;
  if (!kpi_path.empty()) {
    kpi = std::make_unique<mon::KpiLogger>(monitor, kpi_path, std::chrono::milliseconds(500));
    if (um::Status s = kpi->start(); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
      return 1;
    }
  }
  std::printf("PORT %d\n", http.port());
  std::fflush(stdout);

  auto& pm = monitor.pipeline();
  auto& st_pre = pm.stage_latency("preprocess");
  auto& st_det = pm.stage_latency("dfine");
  auto& st_seg = pm.stage_latency("mobilesam");
  auto& st_wts = pm.stage_latency("weights");
  auto& st_tx = pm.stage_latency("tx");
  auto& hop_rx_pre = pm.hop_latency("rx", "preprocess");
  auto& hop_pre_inf = pm.hop_latency("preprocess", "inference");
  auto& hop_inf_rb = pm.hop_latency("inference", "readback");
  auto& hop_rb_tx = pm.hop_latency("readback", "tx");
  auto& drop_stale = pm.drops("rx", "stale");
  auto& drop_full = pm.drops("tx", "outbox_full");
  auto& q_rx = pm.queue_depth("rx");
  auto& q_tx = pm.queue_depth("tx");
  pm.set_connected("plus", true);
  pm.set_connected("slicer", true);
  mon::DetectorFrames detector_frames(pm.registry());

  const int w = 422, h = 558;
  std::vector<uint8_t> gray(static_cast<size_t>(w) * h), mask(gray.size());
  std::deque<int64_t> outbox;  // RX times of frames waiting for "TX"
  const int64_t end = monotonic_ns() + static_cast<int64_t>(seconds * 1e9);
  const int64_t period = 40'000'000;  // 25 fps source
  int64_t next = monotonic_ns();
  for (int frame = 0; !g_stop && monotonic_ns() < end; ++frame) {
    next += period;
    const int64_t rx = monotonic_ns();
    pm.frame_received(rx);
    q_rx.set(1);
    const double phase = frame * 0.05;
    if (frame % 9 == 4) {  // a frame that arrived late: skipped for real
      drop_stale.inc();
      q_rx.set(0);
    } else {
      // The "work": waits whose length varies, each measured.
      const int64_t t_pre0 = monotonic_ns();
      st_pre.record_ns(timed_sleep(1.5 + 0.5 * std::sin(phase)));
      const double contrast = 90 + 70 * std::sin(frame * 0.02);
      synth_frame(w, h, frame, gray, mask, contrast);
      const int64_t t_pre1 = monotonic_ns();
      hop_rx_pre.record_ns(t_pre0 - rx);
      // Detector skipping as the gateway does it: while "visible", D-FINE on every 3rd frame.
      const bool detector_runs = contrast <= 110 || frame % 3 == 0;
      if (detector_runs) st_det.record_ns(timed_sleep(6 + 3 * std::sin(phase * 0.7)));
      detector_frames.count(detector_runs);
      st_seg.record_ns(timed_sleep(9 + 4 * std::sin(phase * 0.4 + 1)));
      const int64_t t_inf = monotonic_ns();
      hop_pre_inf.record_ns(t_inf - t_pre1);
      st_wts.record_ns(timed_sleep(0.8));
      const int64_t t_rb = monotonic_ns();
      hop_inf_rb.record_ns(t_rb - t_inf);
      outbox.push_back(rx);
      if (outbox.size() > 8) {
        outbox.pop_front();
        drop_full.inc();
      }
      q_tx.set(static_cast<double>(outbox.size()));
      q_rx.set(0);
      // Box and state from the mask that was actually drawn.
      int x0 = w, y0 = h, x1 = -1, y1 = -1;
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          if (mask[static_cast<size_t>(y) * w + x]) {
            x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
          }
        }
      }
      const auto state = contrast > 110   ? mon::VisibilityState::kVisible
                         : contrast > 60 ? mon::VisibilityState::kRelocalizing
                                          : mon::VisibilityState::kLost;
      pm.set_visibility(state, monotonic_ns());
      mon::FrameView fv;
      fv.width = w;
      fv.height = h;
      fv.gray = gray.data();
      fv.mask = mask.data();
      fv.frame_id = frame;
      fv.state = state;
      fv.score = std::min(1.0, contrast / 160);
      if (x1 >= 0) fv.box = std::array<float, 4>{float(x0), float(y0), float(x1), float(y1)};
      monitor.offer_frame(fv, monotonic_ns());
      // TX drains the outbox (a burst of "sends" every other frame).
      if (frame % 2 == 0) {
        const int64_t t_tx0 = monotonic_ns();
        st_tx.record_ns(timed_sleep(0.3));
        while (!outbox.empty()) {
          const int64_t now = monotonic_ns();
          pm.frame_sent(now, now - outbox.front());
          outbox.pop_front();
        }
        hop_rb_tx.record_ns(t_tx0 - t_rb);
        q_tx.set(0);
      }
    }
    const int64_t wait = next - monotonic_ns();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  }
  if (kpi) kpi->stop();
  http.stop();
  return 0;
}
