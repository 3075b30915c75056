// File: apps/ultramotion/cmd_eval_phantom.cpp
// Purpose: `ultramotion eval-phantom`: the whole frame path (D-FINE -> MobileSAM -> mask ->
// weights -> quality/state) on built-in phantom frames with ground truth; prints mean/min box
// IoU, mask IoU, detection rate and false detections on bone-free frames (issue 9).
//   ultramotion eval-phantom [--frames N] [--seed S] [--dfine CKPT] [--sam CKPT]
//       [--backend cpu|cuda] [--precision fp32|fp16] [--size HxW] [--resize stretch|letterbox]
//       [--json] [--per-frame]
// Defaults: the bundled phantom models (models/phantom/), 50 frames, seed 0, the demo's size
// cycle. --json prints one JSON document on stdout (progress and logs then go to stderr).
// Metric definitions: src/pipeline/phantom_eval.h.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "command_registry.h"
#include "core/log.h"
#include "core/status.h"
#include "pipeline/frame_processor.h"
#include "pipeline/model_paths.h"
#include "pipeline/phantom_eval.h"

namespace um::cli {
namespace {

struct EvalArgs {
  int frames = 50;
  uint64_t seed = 0;
  std::string dfine = pipeline::kPhantomDFinePath;
  std::string sam = pipeline::kPhantomSamPath;
  std::string backend = "cpu";
  std::string precision = "fp32";
  std::string resize = "stretch";
  std::string size;
  bool json = false;
  bool per_frame = false;
};

nlohmann::json report_json(const pipeline::PhantomEvalReport& r, const EvalArgs& a,
                           const pipeline::ProcessorOptions& opt) {
  nlohmann::json j = {
      {"processor", r.processor},
      {"backend", a.backend},
      {"precision", a.precision},
      {"dfine_checkpoint", opt.dfine_checkpoint},
      {"sam_checkpoint", opt.sam_checkpoint},
      {"seed", a.seed},
      {"frames", r.frames},
      {"bone_frames", r.bone_frames},
      {"empty_frames", r.empty_frames},
      {"mean_box_iou", r.mean_box_iou},
      {"min_box_iou", r.min_box_iou},
      {"mean_mask_iou", r.mean_mask_iou},
      {"min_mask_iou", r.min_mask_iou},
      {"detection_rate", r.detection_rate},
      {"detected_bone_frames", r.detected_bone_frames},
      {"false_detections", r.false_detections},
      {"mean_frame_ms", r.mean_frame_ms},
  };
  if (a.per_frame) {
    nlohmann::json frames = nlohmann::json::array();
    for (const auto& f : r.per_frame) {
      frames.push_back({{"index", f.index},       {"width", f.width},       {"height", f.height},
                        {"has_bone", f.has_bone}, {"detected", f.detected}, {"score", f.score},
                        {"box_iou", f.box_iou},   {"mask_iou", f.mask_iou}, {"ms", f.total_ms}});
    }
    j["per_frame"] = frames;
  }
  return j;
}

void run_eval(const EvalArgs& a) {
  if (a.json) {
    // spdlog's default logger writes to stdout; keep stdout for the JSON document alone.
    auto err = spdlog::stderr_color_mt("eval-phantom");
    err->set_level(spdlog::default_logger()->level());
    spdlog::set_default_logger(err);
  }
  // Cheap checks first, so a bad option fails before seconds of model loading.
  if (a.frames < 1) {
    throw Error(invalid_argument("eval-phantom: --frames must be >= 1, got " +
                                 std::to_string(a.frames)));
  }
  pipeline::ProcessorOptions opt;
  opt.backend = pipeline::parse_backend(a.backend).value();
  opt.precision = pipeline::parse_precision(a.precision).value();
  opt.detector_resize = pipeline::parse_detector_resize(a.resize).value();
  opt.dfine_checkpoint = pipeline::resolve_model_path(a.dfine);
  opt.sam_checkpoint = pipeline::resolve_model_path(a.sam);
  pipeline::PhantomEvalOptions eo;
  eo.frames = a.frames;
  eo.seed = a.seed;
  if (!a.size.empty()) eo.size = pipeline::parse_frame_size(a.size).value();
  eo.on_frame = [&](int i, const pipeline::PhantomFrameEval& f) {
    spdlog::info("frame {}/{} {}x{} bone={} detected={} score={:.3f} box IoU {:.4f} mask IoU "
                 "{:.4f} ({:.0f} ms)",
                 i + 1, a.frames, f.width, f.height, f.has_bone, f.detected, f.score, f.box_iou,
                 f.mask_iou, f.total_ms);
  };
  auto proc = pipeline::create_frame_processor(opt).value();  // throws um::Error with the cause
  const pipeline::PhantomEvalReport rep = pipeline::evaluate_on_phantom(*proc, eo).value();
  if (a.json) {
    std::printf("%s\n", report_json(rep, a, opt).dump(2).c_str());
  } else {
    std::printf("%s", pipeline::format_report(rep).c_str());
  }
}

void register_eval_phantom(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval-phantom", "Measure the whole frame path on phantom frames with ground truth");
  cmd->add_option("--frames", args->frames, "number of phantom frames")->capture_default_str();
  cmd->add_option("--seed", args->seed, "phantom generator seed")->capture_default_str();
  cmd->add_option("--dfine", args->dfine, "D-FINE checkpoint")->capture_default_str();
  cmd->add_option("--sam", args->sam, "MobileSAM checkpoint")->capture_default_str();
  cmd->add_option("--backend", args->backend, "cpu|cuda")->capture_default_str();
  cmd->add_option("--precision", args->precision, "fp32|fp16")->capture_default_str();
  cmd->add_option("--resize", args->resize, "D-FINE input resize: stretch|letterbox")
      ->capture_default_str();
  cmd->add_option("--size", args->size, "one frame size HxW (default: cycle the demo sizes)");
  cmd->add_flag("--json", args->json, "print the report as JSON on stdout");
  cmd->add_flag("--per-frame", args->per_frame, "include per-frame figures in the JSON");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace

UM_REGISTER_COMMAND(register_eval_phantom);

}  // namespace um::cli
