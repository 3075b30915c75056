// File: src/pipeline/phantom_eval.h
// Purpose: end-to-end quality of a FrameProcessor on phantom frames with ground truth (issue 9,
// `ultramotion eval-phantom`): box IoU, mask IoU, detection rate, false detections.
//
// Usage:
//   UM_ASSIGN_OR_RETURN(auto proc, create_frame_processor(opt));
//   PhantomEvalOptions eo; eo.frames = 50; eo.seed = 0;
//   UM_ASSIGN_OR_RETURN(PhantomEvalReport rep, evaluate_on_phantom(*proc, eo));
//   std::puts(format_report(rep).c_str());
//
// Definitions (per frame i of PhantomGenerator(seed, size)):
//   - the processor is reset() before every frame: phantom frames are independent, so no
//     temporal state (previous mask, low-res prompt, visibility) may leak between them;
//   - sequence mode (options.sequence): the frames are instead the moving PhantomStream(seed,
//     size or 558x422 at 25 fps, 10 % bone-free episodes), processed in order after ONE reset,
//     so the tracker, visibility state and detector skipping (DetectorSkipConfig) act as live;
//   - bone frame: the ground truth has a box. detected: FrameResult::detected (score >= tau_conf);
//   - box IoU: predicted xyxy box vs the truth box [x0, y0, x1, y1) taken as the continuous
//     rectangle [x0, x1] x [y0, y1]; an undetected bone frame counts 0;
//   - mask IoU: predicted mask vs the truth mask, pixel sets; an undetected bone frame counts 0;
//   - mean / min over bone frames; detection rate = detected bone frames / bone frames;
//   - false detections: bone-free frames where the processor reported a detection;
//   - detector frames: frames where D-FINE ran (FrameResult::detector_ran);
//   - frame ms: FrameResult timings total (the whole process() call, host wall time);
//   - model ms: preprocess + detector + encoder + decoder + readback of FrameResult timings:
//     on the CUDA backend these are the GPU's own stage times (CUDA events), i.e. the GPU time
//     per frame; on the CPU backend the host time of the same stages. Mean and median (the
//     median is robust to the first frame of a size, which includes warm-up / graph capture).
//
// Side by side (detector skipping, issue 10): run the same options twice, each on a fresh
// processor of its own config, and print format_comparison(every_frame, skipping).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/frame_processor.h"
#include "pipeline/phantom.h"

namespace um::pipeline {

struct PhantomEvalOptions {
  int frames = 20;
  uint64_t seed = 0;
  std::optional<FrameSize> size;  // default: the demo's size cycle (sequence: 558x422)
  bool sequence = false;          // moving PhantomStream in order, no reset between frames
  // Called after every frame (progress display); may be empty.
  std::function<void(int index, const struct PhantomFrameEval&)> on_frame;
};

struct PhantomFrameEval {
  int index = 0;
  int width = 0, height = 0;
  bool has_bone = false;
  bool detected = false;
  float score = 0;
  float box_iou = 0;   // 0 when not applicable
  float mask_iou = 0;
  bool detector_ran = false;
  double total_ms = 0;
  double model_ms = 0;  // preprocess + detector + encoder + decoder + readback
  double detector_ms = 0;
};

struct PhantomEvalReport {
  std::string processor;  // FrameProcessor::description()
  int frames = 0;
  int bone_frames = 0;
  int empty_frames = 0;
  int detected_bone_frames = 0;
  int false_detections = 0;
  double mean_box_iou = 0, min_box_iou = 0;
  double mean_mask_iou = 0, min_mask_iou = 0;
  double detection_rate = 0;
  double mean_frame_ms = 0;
  bool sequence = false;
  int detector_frames = 0;        // frames where D-FINE ran
  double median_frame_ms = 0;
  double mean_model_ms = 0, median_model_ms = 0;
  double mean_detector_ms = 0;    // over all frames (0 on skipped ones)
  std::vector<PhantomFrameEval> per_frame;
};

// Errors: the first frame whose process() failed (with its index), kInvalidArgument for
// frames < 1.
Result<PhantomEvalReport> evaluate_on_phantom(FrameProcessor& processor,
                                              const PhantomEvalOptions& options);

// Human-readable summary, several lines.
std::string format_report(const PhantomEvalReport& report);
// Two runs on the same frames as a table with one row each (labels e.g. "k=1", "k=3") and the
// differences: mask IoU of b minus a, model ms of b relative to a.
std::string format_comparison(const std::string& label_a, const PhantomEvalReport& a,
                              const std::string& label_b, const PhantomEvalReport& b);

// IoU of two continuous xyxy rectangles (0 when both are empty).
double box_iou(double ax0, double ay0, double ax1, double ay1, double bx0, double by0, double bx1,
               double by1);
// IoU of two binary masks of the same size (nonzero = 1); 0 when both are empty.
double mask_iou(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

}  // namespace um::pipeline
