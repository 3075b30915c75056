// File: src/pipeline/frame_processor.cpp
// Purpose: option parsing and the factory that picks a FrameProcessor implementation.
#include "pipeline/frame_processor.h"

#include <filesystem>

#include "core/clock.h"

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

Status FrameProcessor::check_room_for_submit() const {
  if (in_flight() < max_in_flight()) return Status::Ok();
  return failed_precondition("submit: " + std::to_string(in_flight()) +
                             " frame(s) already in flight (at most " +
                             std::to_string(max_in_flight()) + "); complete() one first");
}

Status FrameProcessor::submit(Frame frame) {
  UM_RETURN_IF_ERROR(check_room_for_submit());
  UM_RETURN_IF_ERROR(validate_frame(frame));
  pending_.push_back(std::move(frame));
  return Status::Ok();
}

Result<FrameResult> FrameProcessor::complete() {
  if (pending_.empty()) return failed_precondition("complete: no frame in flight");
  const Frame frame = std::move(pending_.front());
  pending_.pop_front();
  const int64_t submitted = monotonic_ns();  // the CPU work starts here (frame.h: submit_ns)
  Result<FrameResult> r = process(frame);
  if (r.ok()) r->timings.submit_ns = submitted;
  return r;
}

namespace {
// The checks every factory makes before loading anything.
Status check_processor_options(const ProcessorOptions& opt) {
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
  return Status::Ok();
}
}  // namespace

Result<std::unique_ptr<FrameProcessor>> create_frame_processor(const ProcessorOptions& opt) {
  UM_RETURN_IF_ERROR(check_processor_options(opt));
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

Result<std::vector<std::unique_ptr<FrameProcessor>>> create_frame_processors(
    const ProcessorOptions& opt, int count) {
  if (count < 1) {
    return invalid_argument("create_frame_processors: count must be >= 1, got " +
                            std::to_string(count));
  }
  UM_RETURN_IF_ERROR(check_processor_options(opt));
  std::vector<std::unique_ptr<FrameProcessor>> out;
  if (opt.backend == Backend::kCuda) {
#ifdef UM_WITH_CUDA
    UM_ASSIGN_OR_RETURN(std::unique_ptr<CudaFrameProcessor> first, CudaFrameProcessor::create(opt));
    for (int i = 1; i < count; ++i) out.push_back(first->sharing_models());
    out.insert(out.begin(), std::move(first));
    return out;
#else
    return create_frame_processor(opt).status();  // the "no CUDA in this build" error
#endif
  }
  UM_ASSIGN_OR_RETURN(std::unique_ptr<CpuFrameProcessor> first, CpuFrameProcessor::create(opt));
  for (int i = 1; i < count; ++i) out.push_back(first->sharing_models());
  out.insert(out.begin(), std::move(first));
  return out;
}

}  // namespace um::pipeline
