// File: src/gateway/model_setup.h
// Purpose: from a GatewayConfig to a ready FrameProcessor: checkpoint paths resolved (relative
// paths also next to the executable, pipeline/model_paths.h), thresholds and options mapped.
// Usage:
//   resolve_model_paths(&cfg);                       // before validate_config()
//   UM_ASSIGN_OR_RETURN(auto proc, make_frame_processor(cfg));
#pragma once

#include <memory>

#include "core/status.h"
#include "gateway/config.h"
#include "pipeline/frame_processor.h"

namespace um::gateway {

// Replaces models.dfine / models.sam by pipeline::resolve_model_path() of each.
void resolve_model_paths(GatewayConfig* cfg);

// The pipeline options the config asks for (kInvalidArgument for unknown enum strings).
Result<pipeline::ProcessorOptions> processor_options(const GatewayConfig& cfg);

// Loads both checkpoints and builds the processor (seconds on the CPU). Errors as
// pipeline::create_frame_processor: kNotFound, kInvalidArgument, kFailedPrecondition.
Result<std::unique_ptr<pipeline::FrameProcessor>> make_frame_processor(const GatewayConfig& cfg);

}  // namespace um::gateway
