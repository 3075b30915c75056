// File: src/monitor/detector_frames.h
// Purpose: the detector-skipping figure of the dashboard (issue 10): how many processed frames
// ran D-FINE ("detected") and how many were segmented from the tracker's box ("tracked").
// One counter family, um_detector_frames_total{mode="detected"|"tracked"} (plus whatever base
// labels the caller's series carry, e.g. stream="<name>"); /api/v1/metrics sums it into
//   "detector": {"detected": n, "tracked": m, "tracked_share": m / (n + m) | null}
// and the page shows it as a tile.
//
// Usage (gateway, set-up then per processed frame):
//   DetectorFrames det(registry);               // registers both series (0 until counted)
//   det.count(result.detector_ran);
#pragma once

#include "monitor/metrics.h"

namespace um::monitor {

inline constexpr const char* kDetectorFramesMetric = "um_detector_frames_total";

class DetectorFrames {
 public:
  explicit DetectorFrames(Registry& registry, const Labels& base = {})
      : detected_(registry.counter(kDetectorFramesMetric, kHelp, with(base, "detected"))),
        tracked_(registry.counter(kDetectorFramesMetric, kHelp, with(base, "tracked"))) {}

  // Hot path: one relaxed increment.
  void count(bool detector_ran) { (detector_ran ? detected_ : tracked_).inc(); }

 private:
  static constexpr const char* kHelp =
      "Processed frames by whether D-FINE ran (mode=detected) or the tracker's box was used "
      "(mode=tracked, detector skipping)";
  static Labels with(Labels base, const char* mode) {
    base.push_back({"mode", mode});
    return base;
  }
  Counter& detected_;
  Counter& tracked_;
};

}  // namespace um::monitor
