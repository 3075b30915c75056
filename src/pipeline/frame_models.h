// File: src/pipeline/frame_models.h
// Purpose: loading the two models of a FrameProcessor, shared by the CPU and CUDA processors: the
// D-FINE resize mode from the options, and the seeded synthetic weights for a checkpoint file
// that is absent when (and only when) opt.allow_synthetic is set (synthetic_models_label); a
// file that exists but fails to load stays an error, named with its path.
// Usage:
//   dfine::Options dopt;  dopt.device = Device::cuda();  dopt.dtype = DType::kF16;
//   UM_ASSIGN_OR_RETURN(FrameModels m, load_frame_models(opt, dopt));
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "models/dfine/dfine.h"
#include "models/mobilesam/mobilesam.h"
#include "pipeline/frame_processor.h"

namespace um::pipeline {

struct FrameModels {
  std::shared_ptr<const dfine::DFine> detector;
  std::shared_ptr<const mobilesam::MobileSam> segmenter;
  std::string synthetic;  // "dfine", "sam", "dfine,sam", or empty: none
};

// `dfine_options` gives the placement (device, dtype, per-stage float16 policy); its resize mode
// is taken from opt.detector_resize. MobileSAM goes to the same device and dtype.
Result<FrameModels> load_frame_models(const ProcessorOptions& opt, dfine::Options dfine_options);

}  // namespace um::pipeline
