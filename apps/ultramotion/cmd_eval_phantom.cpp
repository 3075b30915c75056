// File: apps/ultramotion/cmd_eval_phantom.cpp
// Purpose: `ultramotion eval-phantom`: the whole frame path (D-FINE -> MobileSAM -> mask ->
// weights -> quality/state) on built-in phantom frames with ground truth; prints mean/min box
// IoU, mask IoU, detection rate and false detections on bone-free frames (issue 9).
//   ultramotion eval-phantom [--frames N] [--seed S] [--dfine CKPT] [--sam CKPT]
//       [--backend cpu|cuda] [--precision fp32|fp16] [--size HxW] [--resize stretch|letterbox]
//       [--json] [--per-frame] [--sequence] [--detect-every K] [--compare-detect-every K2]
//       [--skip-min-iou X] [--skip-min-score X] [--skip-max-quality-drop X]
// Defaults: the bundled phantom models (models/phantom/), 50 frames, seed 0, the demo's size
// cycle. --json prints one JSON document on stdout (progress and logs then go to stderr).
// Metric definitions: src/pipeline/phantom_eval.h.
// Detector skipping (issue 10): --sequence evaluates one moving phantom sequence in order (the
// tracker and state carry over); --detect-every K runs D-FINE on every K-th frame while the
// target is stable (needs --sequence when K > 1); --compare-detect-every K2 evaluates the same
// frames a second time with K2 on a fresh processor and prints both rows side by side, e.g.
//   ultramotion eval-phantom --sequence --frames 300 --compare-detect-every 3 --backend cuda
// (JSON: {"runs": [first, second], "comparison": {...}}).
// The thresholds default to DetectorSkipConfig's (frame_processor.h).
#include <cstdio>
#include <string>
#include <vector>

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
  bool sequence = false;
  int detect_every = 1;
  int compare_detect_every = 0;  // 0: no second run
  pipeline::DetectorSkipConfig skip;  // every is taken from detect_every / compare_detect_every
};

nlohmann::json report_json(const pipeline::PhantomEvalReport& r, const EvalArgs& a,
                           const pipeline::ProcessorOptions& opt) {
  const pipeline::DetectorSkipConfig& skip = opt.config.detector_skip;
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
      {"median_frame_ms", r.median_frame_ms},
      {"mean_model_ms", r.mean_model_ms},
      {"median_model_ms", r.median_model_ms},
      {"model_ms_is_gpu_time", a.backend == "cuda"},
      {"mean_detector_ms", r.mean_detector_ms},
      {"detector_frames", r.detector_frames},
      {"sequence", r.sequence},
      {"detector_skip",
       {{"every", skip.every},
        {"min_box_iou", skip.min_box_iou},
        {"min_score", skip.min_score},
        {"max_quality_drop", skip.max_quality_drop}}},
  };
  if (a.per_frame) {
    nlohmann::json frames = nlohmann::json::array();
    for (const auto& f : r.per_frame) {
      frames.push_back({{"index", f.index},       {"width", f.width},       {"height", f.height},
                        {"has_bone", f.has_bone}, {"detected", f.detected}, {"score", f.score},
                        {"box_iou", f.box_iou},   {"mask_iou", f.mask_iou}, {"ms", f.total_ms},
                        {"model_ms", f.model_ms}, {"detector_ms", f.detector_ms},
                        {"detector_ran", f.detector_ran}});
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
  if (a.compare_detect_every < 0) {
    throw Error(invalid_argument("eval-phantom: --compare-detect-every must be >= 1, got " +
                                 std::to_string(a.compare_detect_every)));
  }
  pipeline::DetectorSkipConfig skip = a.skip;
  std::vector<int> ks = {a.detect_every};
  if (a.compare_detect_every > 0) ks.push_back(a.compare_detect_every);
  for (int k : ks) {
    skip.every = k;
    throw_if_error(pipeline::validate_detector_skip_config(skip));
    if (k > 1 && !a.sequence) {
      throw Error(invalid_argument(
          "eval-phantom: detector skipping (K = " + std::to_string(k) +
          ") needs --sequence: independent frames are reset one by one and have no track"));
    }
  }
  pipeline::ProcessorOptions opt;
  opt.backend = pipeline::parse_backend(a.backend).value();
  opt.precision = pipeline::parse_precision(a.precision).value();
  opt.detector_resize = pipeline::parse_detector_resize(a.resize).value();
  opt.dfine_checkpoint = pipeline::resolve_model_path(a.dfine);
  opt.sam_checkpoint = pipeline::resolve_model_path(a.sam);
  opt.config.detector_skip = a.skip;
  opt.config.detector_skip.every = a.detect_every;
  pipeline::PhantomEvalOptions eo;
  eo.frames = a.frames;
  eo.seed = a.seed;
  eo.sequence = a.sequence;
  if (!a.size.empty()) eo.size = pipeline::parse_frame_size(a.size).value();
  eo.on_frame = [&](int i, const pipeline::PhantomFrameEval& f) {
    spdlog::info("frame {}/{} {}x{} bone={} detected={} score={:.3f} box IoU {:.4f} mask IoU "
                 "{:.4f} D-FINE {} ({:.0f} ms)",
                 i + 1, a.frames, f.width, f.height, f.has_bone, f.detected, f.score, f.box_iou,
                 f.mask_iou, f.detector_ran ? "ran" : "tracked", f.total_ms);
  };
  // One run = one fresh processor with its own detector_skip.every, on the same frames.
  auto evaluate = [&](const pipeline::ProcessorOptions& o) {
    auto proc = pipeline::create_frame_processor(o).value();  // throws um::Error with the cause
    return pipeline::evaluate_on_phantom(*proc, eo).value();
  };
  const pipeline::PhantomEvalReport rep = evaluate(opt);
  if (a.compare_detect_every == 0) {
    if (a.json) {
      std::printf("%s\n", report_json(rep, a, opt).dump(2).c_str());
    } else {
      std::printf("%s", pipeline::format_report(rep).c_str());
    }
    return;
  }
  pipeline::ProcessorOptions opt2 = opt;
  opt2.config.detector_skip.every = a.compare_detect_every;
  const pipeline::PhantomEvalReport rep2 = evaluate(opt2);
  const std::string la = "k=" + std::to_string(a.detect_every);
  const std::string lb = "k=" + std::to_string(a.compare_detect_every);
  if (a.json) {
    nlohmann::json j;
    j["runs"] = {report_json(rep, a, opt), report_json(rep2, a, opt2)};
    j["comparison"] = {
        {"mask_iou_delta", rep2.mean_mask_iou - rep.mean_mask_iou},
        {"box_iou_delta", rep2.mean_box_iou - rep.mean_box_iou},
        {"model_ms_ratio", rep.mean_model_ms > 0 ? rep2.mean_model_ms / rep.mean_model_ms : 0.0},
        {"frame_ms_ratio", rep.mean_frame_ms > 0 ? rep2.mean_frame_ms / rep.mean_frame_ms : 0.0},
        {"detector_ms_ratio",
         rep.mean_detector_ms > 0 ? rep2.mean_detector_ms / rep.mean_detector_ms : 0.0},
        {"detector_frames", {rep.detector_frames, rep2.detector_frames}},
    };
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s\n%s\n%s", pipeline::format_report(rep).c_str(),
                pipeline::format_report(rep2).c_str(),
                pipeline::format_comparison(la, rep, lb, rep2).c_str());
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
  cmd->add_flag("--sequence", args->sequence,
                "one moving phantom sequence in order (tracker and state carry over)");
  cmd->add_option("--detect-every", args->detect_every,
                  "D-FINE on every K-th frame while the target is stable (1 = every frame)")
      ->capture_default_str();
  cmd->add_option("--compare-detect-every", args->compare_detect_every,
                  "evaluate the same frames again with this K and print both side by side");
  cmd->add_option("--skip-min-iou", args->skip.min_box_iou,
                  "detector skipping: tracker box IoU needed")
      ->capture_default_str();
  cmd->add_option("--skip-min-score", args->skip.min_score,
                  "detector skipping: last detection score needed")
      ->capture_default_str();
  cmd->add_option("--skip-max-quality-drop", args->skip.max_quality_drop,
                  "detector skipping: quality drop that forces a detection")
      ->capture_default_str();
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace

UM_REGISTER_COMMAND(register_eval_phantom);

}  // namespace um::cli
