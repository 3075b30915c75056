// File: src/pipeline/frame_processor.cpp
// Purpose: option parsing and the factory that picks a FrameProcessor implementation.
#include "pipeline/frame_processor.h"

#include <filesystem>

#include "pipeline/cpu_frame_processor.h"
#ifdef UM_WITH_CUDA
#include "pipeline/cuda_frame_processor.h"
#endif

namespace um::pipeline {

Result<Backend> parse_backend(const std::string& s) {
  if (s == "cpu") return Backend::kCpu;
  if (s == "cuda") return Backend::kCuda;
  return invalid_argument("unknown backend '" + s + "' (expected cpu or cuda)");
}

Result<Precision> parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::kFp32;
  if (s == "fp16") return Precision::kFp16;
  return invalid_argument("unknown precision '" + s + "' (expected fp32 or fp16)");
}

Result<DetectorResize> parse_detector_resize(const std::string& s) {
  if (s == "stretch") return DetectorResize::kStretch;
  if (s == "letterbox") return DetectorResize::kLetterbox;
  return invalid_argument("unknown detector resize mode '" + s + "' (expected stretch or letterbox)");
}

const char* backend_name(Backend b) { return b == Backend::kCuda ? "cuda" : "cpu"; }
const char* precision_name(Precision p) { return p == Precision::kFp16 ? "fp16" : "fp32"; }
const char* detector_resize_name(DetectorResize r) {
  return r == DetectorResize::kLetterbox ? "letterbox" : "stretch";
}

namespace {
bool checkpoint_missing(const std::string& path) {
  std::error_code ec;
  return path.empty() || !std::filesystem::exists(path, ec);
}
}  // namespace

std::string synthetic_models_label(const ProcessorOptions& opt) {
  if (!opt.allow_synthetic) return "none";
  const bool d = checkpoint_missing(opt.dfine_checkpoint);
  const bool s = checkpoint_missing(opt.sam_checkpoint);
  if (d && s) return "dfine,sam";
  if (d) return "dfine";
  if (s) return "sam";
  return "none";
}

Result<std::unique_ptr<FrameProcessor>> create_frame_processor(const ProcessorOptions& opt) {
  UM_RETURN_IF_ERROR(validate_visibility_config(opt.config.visibility));
  UM_RETURN_IF_ERROR(validate_tracker_config(opt.config.tracker));
  if (opt.backend == Backend::kCuda) {
#ifndef UM_WITH_CUDA
    return failed_precondition(
        "backend cuda requested, but this build has no CUDA support (configure with "
        "-DULTRAMOTION_CUDA=ON on a machine with the CUDA toolkit, or use --backend cpu)");
#endif
  }
  for (const std::string* path : {&opt.dfine_checkpoint, &opt.sam_checkpoint}) {
    if (opt.allow_synthetic && checkpoint_missing(*path)) continue;  // synthetic weights
    if (path->empty()) return invalid_argument("frame processor: a checkpoint path is empty");
    if (!std::filesystem::exists(*path)) {
      return not_found("frame processor: checkpoint '" + *path +
                       "' not found (models.allow_synthetic: true would run seeded synthetic "
                       "weights instead, for demos only)");
    }
    if (!std::filesystem::is_regular_file(*path)) {
      return invalid_argument("frame processor: checkpoint '" + *path + "' is not a file");
    }
  }
  if (opt.backend == Backend::kCuda) {
#ifdef UM_WITH_CUDA
    auto gpu = CudaFrameProcessor::create(opt);
    if (!gpu.ok()) return gpu.status();
    return std::unique_ptr<FrameProcessor>(std::move(gpu).value());
#endif
  }
  auto cpu = CpuFrameProcessor::create(opt);
  if (!cpu.ok()) return cpu.status();
  return std::unique_ptr<FrameProcessor>(std::move(cpu).value());
}

}  // namespace um::pipeline
