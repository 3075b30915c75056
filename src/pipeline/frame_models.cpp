// File: src/pipeline/frame_models.cpp
// Purpose: the models of a FrameProcessor (see frame_models.h).
#include "pipeline/frame_models.h"

#include "pipeline/synthetic_weights.h"

namespace um::pipeline {

Result<FrameModels> load_frame_models(const ProcessorOptions& opt, dfine::Options dopt) {
  dopt.resize = opt.detector_resize == DetectorResize::kLetterbox ? dfine::ResizeMode::kLetterbox
                                                                  : dfine::ResizeMode::kStretch;
  const std::string synthetic = synthetic_models_label(opt);
  const bool synth_dfine = synthetic.find("dfine") != std::string::npos;
  const bool synth_sam = synthetic.find("sam") != std::string::npos;
  auto det = synth_dfine ? dfine::DFine::from_tensors(synthetic_dfine_n_weights(), dopt)
                         : dfine::DFine::load(opt.dfine_checkpoint, dopt);
  if (!det.ok()) return det.status().with_context("loading D-FINE '" + opt.dfine_checkpoint + "'");
  auto sam = synth_sam ? mobilesam::MobileSam::from_tensors(synthetic_mobilesam_vit_t_weights(),
                                                            dopt.device, dopt.dtype)
                       : mobilesam::MobileSam::load(opt.sam_checkpoint, dopt.device, dopt.dtype);
  if (!sam.ok()) return sam.status().with_context("loading MobileSAM '" + opt.sam_checkpoint + "'");
  FrameModels m;
  m.detector = std::move(det).value();
  m.segmenter = std::move(sam).value();
  m.synthetic = synthetic == "none" ? "" : synthetic;
  return m;
}

}  // namespace um::pipeline
