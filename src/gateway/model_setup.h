// File: src/gateway/model_setup.h
// Purpose: from a GatewayConfig to a ready FrameProcessor: checkpoint paths resolved (relative
// paths also next to the executable, pipeline/model_paths.h), thresholds and options mapped.
// Usage:
//   resolve_model_paths(&cfg);                       // before validate_config()
//   UM_ASSIGN_OR_RETURN(auto proc, make_frame_processor(cfg));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "gateway/config.h"
#include "pipeline/frame_processor.h"

namespace um::gateway {

// Replaces models.dfine / models.sam by pipeline::resolve_model_path() of each.
void resolve_model_paths(GatewayConfig* cfg);

// The pipeline options the config asks for (kInvalidArgument for unknown enum strings).
Result<pipeline::ProcessorOptions> processor_options(const GatewayConfig& cfg);

// Empty when every model has its checkpoint; otherwise one loud line naming which models run on
// synthetic weights and the missing file of each (for the log and the dashboard banner).
std::string synthetic_weights_detail(const pipeline::ProcessorOptions& o);

// Loads both checkpoints and builds the processor (seconds on the CPU). Errors as
// pipeline::create_frame_processor: kNotFound, kInvalidArgument, kFailedPrecondition. A missing
// file with models.allow_synthetic gives synthetic weights and a warning in the log.
Result<std::unique_ptr<pipeline::FrameProcessor>> make_frame_processor(const GatewayConfig& cfg);

// One processor per stream of effective_streams(cfg), sharing one copy of the models
// (pipeline::create_frame_processors), each with its own temporal state. Same errors.
Result<std::vector<std::unique_ptr<pipeline::FrameProcessor>>> make_frame_processors(
    const GatewayConfig& cfg);

}  // namespace um::gateway
