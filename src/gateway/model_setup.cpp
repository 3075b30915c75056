// GatewayConfig -> pipeline::ProcessorOptions -> FrameProcessor.
#include "gateway/model_setup.h"

#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "gateway/stream_config.h"
#include "pipeline/model_paths.h"

namespace um::gateway {

void resolve_model_paths(GatewayConfig* cfg) {
  cfg->models.dfine = pipeline::resolve_model_path(cfg->models.dfine);
  cfg->models.sam = pipeline::resolve_model_path(cfg->models.sam);
}

Result<pipeline::ProcessorOptions> processor_options(const GatewayConfig& cfg) {
  pipeline::ProcessorOptions o;
  UM_ASSIGN_OR_RETURN(o.backend, pipeline::parse_backend(cfg.models.backend));
  UM_ASSIGN_OR_RETURN(o.precision, pipeline::parse_precision(cfg.models.precision));
  UM_ASSIGN_OR_RETURN(o.detector_resize, pipeline::parse_detector_resize(cfg.models.resize));
  o.dfine_checkpoint = cfg.models.dfine;
  o.sam_checkpoint = cfg.models.sam;
  o.config.visibility.tau_conf = static_cast<float>(cfg.thresholds.tau_conf);
  o.config.visibility.theta_on = static_cast<float>(cfg.thresholds.theta_on);
  o.config.visibility.theta_off = static_cast<float>(cfg.thresholds.theta_off);
  o.config.visibility.theta_cont = static_cast<float>(cfg.thresholds.theta_cont);
  o.config.reuse_low_res_mask = cfg.models.mask_prompt_reuse;
  o.config.detector_skip.every = cfg.detector_skip.every;
  o.config.detector_skip.min_box_iou = static_cast<float>(cfg.detector_skip.min_box_iou);
  o.config.detector_skip.min_score = static_cast<float>(cfg.detector_skip.min_score);
  o.config.detector_skip.max_quality_drop =
      static_cast<float>(cfg.detector_skip.max_quality_drop);
  o.allow_synthetic = cfg.models.allow_synthetic;
  o.config.output_weights = cfg.slicer.outputs.weights;
  return o;
}

std::string synthetic_weights_detail(const pipeline::ProcessorOptions& o) {
  const std::string label = pipeline::synthetic_models_label(o);
  if (label == "none") return {};
  std::string d = "SYNTHETIC (seeded random) weights, detections are meaningless:";
  if (label.find("dfine") != std::string::npos)
    d += " D-FINE checkpoint '" + o.dfine_checkpoint + "' not found;";
  if (label.find("sam") != std::string::npos)
    d += " MobileSAM checkpoint '" + o.sam_checkpoint + "' not found;";
  d.pop_back();
  return d;
}

Result<std::unique_ptr<pipeline::FrameProcessor>> make_frame_processor(const GatewayConfig& cfg) {
  UM_ASSIGN_OR_RETURN(pipeline::ProcessorOptions o, processor_options(cfg));
  const std::string synthetic = pipeline::synthetic_models_label(o);
  if (synthetic != "none") spdlog::warn("[models] {}", synthetic_weights_detail(o));
  const int64_t t0 = monotonic_ns();
  auto p = pipeline::create_frame_processor(o);
  if (!p.ok()) return p.status().with_context("loading models");
  spdlog::info("[models] {} ready in {:.1f} s (D-FINE '{}', MobileSAM '{}')", (*p)->description(),
               ns_to_ms(monotonic_ns() - t0) / 1000.0, o.dfine_checkpoint, o.sam_checkpoint);
  return p;
}

Result<std::vector<std::unique_ptr<pipeline::FrameProcessor>>> make_frame_processors(
    const GatewayConfig& cfg) {
  UM_ASSIGN_OR_RETURN(pipeline::ProcessorOptions o, processor_options(cfg));
  const std::string synthetic = pipeline::synthetic_models_label(o);
  if (synthetic != "none") spdlog::warn("[models] {}", synthetic_weights_detail(o));
  const int n = static_cast<int>(effective_streams(cfg).size());
  const int64_t t0 = monotonic_ns();
  auto p = pipeline::create_frame_processors(o, n);
  if (!p.ok()) return p.status().with_context("loading models");
  spdlog::info("[models] {} x {} stream(s), one copy of the models, ready in {:.1f} s "
               "(D-FINE '{}', MobileSAM '{}')",
               p->front()->description(), n, ns_to_ms(monotonic_ns() - t0) / 1000.0,
               o.dfine_checkpoint, o.sam_checkpoint);
  return p;
}

}  // namespace um::gateway
