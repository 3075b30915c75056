// File: src/pipeline/cpu_frame_processor.h
// Purpose: the CPU implementation of FrameProcessor (frame_processor.h): the reference frame
// path with the real models (um::dfine::DFine, um::mobilesam) in float32 on the CPU.
//
// Per frame (all timed into FrameResult::timings):
//   preprocess  D-FINE input (gray/255 -> 640x640, stretch or letterbox) and, when a box is
//               found, MobileSAM's ResizeLongestSide(1024) + normalise + pad
//   detector    D-FINE forward + official post-processor + top-1 box clamped to the frame
//   (score < tau_conf: no detection; MobileSAM is skipped, mask and maps stay empty)
//               With detector skipping (config.detector_skip.every > 1) a frame the plan skips
//               (FrameTemporalState::plan_detection) has no D-FINE work at all: its box is the
//               tracker's prediction; everything below runs as usual.
//   encoder     TinyViT image embedding (every frame with a box, D-FINE skipped or not)
//   decoder     prompt (box, plus the previous low-res logits when reuse_low_res_mask) + mask
//               decoder + upscaling to the native frame size; mask = logits > 0
//   weights     W_in / W_edge / W_out (mask_weights.h)
//   quality     quality scores (quality.h); the box tracker (tracker.h) gives the temporal
//               stability; the previous mask, moved by the box-centre shift, the informational
//               mask_stability; then the visibility state (visibility.h)
// Threading: models are immutable and may be shared by several processors; one processor is
// used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/dfine/dfine.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/predictor.h"
#include "pipeline/frame_processor.h"
#include "pipeline/frame_state.h"

namespace um::pipeline {

class CpuFrameProcessor final : public FrameProcessor {
 public:
  // Loads both checkpoints (opt.backend must be kCpu, opt.precision kFp32), or seeded synthetic
  // weights for a missing file when opt.allow_synthetic.
  static Result<std::unique_ptr<CpuFrameProcessor>> create(const ProcessorOptions& opt);

  // From models loaded elsewhere (shared between processors, or built from tensors).
  CpuFrameProcessor(std::shared_ptr<const dfine::DFine> detector,
                    std::shared_ptr<const mobilesam::MobileSam> segmenter,
                    ProcessorConfig config);

  // A new processor for another stream: the same (shared, immutable) models, its own state.
  std::unique_ptr<CpuFrameProcessor> sharing_models() const;

  Result<FrameResult> process(const Frame& frame) override;
  void reset() override;
  std::string description() const override;
  const ProcessorConfig& config() const override { return config_; }

 private:
  // The throwing core of process(); process() turns um::Error into a Status. `plan` says
  // whether D-FINE runs or the tracker's box is used (detector skipping, frame_state.h).
  FrameResult run(const Frame& frame, const DetectionPlan& plan);

  std::shared_ptr<const dfine::DFine> detector_;
  std::shared_ptr<const mobilesam::MobileSam> segmenter_;
  mobilesam::Predictor predictor_;
  ProcessorConfig config_;
  FrameTemporalState state_;  // tracker, visibility, previous mask (frame_state.h)
  // Models built from synthetic weights ("dfine", "sam", "dfine,sam"; empty: none), shown in
  // description().
  std::string synthetic_;
};

}  // namespace um::pipeline
