// File: src/pipeline/cpu_frame_processor.cpp
// Purpose: the CPU frame path (see cpu_frame_processor.h).
#include "pipeline/cpu_frame_processor.h"

#include <cmath>
#include <exception>
#include <utility>

#include "core/clock.h"
#include "core/log.h"
#include "models/dfine/postprocess.h"
#include "models/mobilesam/preprocess.h"
#include "pipeline/frame_models.h"

namespace um::pipeline {

Result<std::unique_ptr<CpuFrameProcessor>> CpuFrameProcessor::create(const ProcessorOptions& opt) {
  if (opt.backend != Backend::kCpu) {
    return invalid_argument("CpuFrameProcessor: backend must be cpu");
  }
  if (opt.precision != Precision::kFp32) {
    return failed_precondition(std::string("precision ") + precision_name(opt.precision) +
                               " is only available on the CUDA backend; the CPU path is fp32");
  }
  UM_RETURN_IF_ERROR(validate_visibility_config(opt.config.visibility));
  UM_RETURN_IF_ERROR(validate_tracker_config(opt.config.tracker));
  UM_RETURN_IF_ERROR(validate_detector_skip_config(opt.config.detector_skip));
  UM_ASSIGN_OR_RETURN(FrameModels m, load_frame_models(opt, dfine::Options{}));
  spdlog::info("frame processor: D-FINE {} ({}), MobileSAM vit_t ({}), cpu fp32",
               m.detector->config().summary(),
               m.synthetic.find("dfine") != std::string::npos ? "SYNTHETIC" : opt.dfine_checkpoint,
               m.synthetic.find("sam") != std::string::npos ? "SYNTHETIC" : opt.sam_checkpoint);
  auto p = std::make_unique<CpuFrameProcessor>(std::move(m.detector), std::move(m.segmenter),
                                               opt.config);
  p->synthetic_ = std::move(m.synthetic);
  return p;
}

CpuFrameProcessor::CpuFrameProcessor(std::shared_ptr<const dfine::DFine> detector,
                                     std::shared_ptr<const mobilesam::MobileSam> segmenter,
                                     ProcessorConfig config)
    : detector_(std::move(detector)),
      segmenter_(std::move(segmenter)),
      predictor_(segmenter_),
      config_(config),
      state_(config) {}

std::unique_ptr<CpuFrameProcessor> CpuFrameProcessor::sharing_models() const {
  auto p = std::make_unique<CpuFrameProcessor>(detector_, segmenter_, config_);
  p->synthetic_ = synthetic_;
  return p;
}

void CpuFrameProcessor::reset() {
  state_.reset();
  predictor_.reset_image();
}

std::string CpuFrameProcessor::description() const {
  std::string d = "cpu fp32, D-FINE " + std::string(dfine::variant_name(detector_->config().variant)) +
                  " + MobileSAM vit_t";
  if (config_.reuse_low_res_mask) d += ", low-res mask reuse";
  if (config_.detector_skip.every > 1) {
    d += ", D-FINE every " + std::to_string(config_.detector_skip.every) + " frames when stable";
  }
  if (!synthetic_.empty()) d += ", SYNTHETIC weights (" + synthetic_ + ")";
  return d;
}

Result<FrameResult> CpuFrameProcessor::process(const Frame& frame) {
  return process_guarded(frame, [this](const Frame& f) {
    const DetectionPlan plan = state_.plan_detection(f.width, f.height);
    try {
      return run(f, plan);
    } catch (...) {
      state_.frame_failed();  // the plan never completed
      throw;
    }
  });
}

FrameResult CpuFrameProcessor::run(const Frame& frame, const DetectionPlan& plan) {
  FrameResult r;
  r.frame_id = frame.id;
  r.width = frame.width;
  r.height = frame.height;
  StageTimings& t = r.timings;
  t.start_ns = monotonic_ns();
  const size_t npix = static_cast<size_t>(frame.width) * frame.height;
  io::Image image{frame.width, frame.height, 1, frame.pixels};

  int64_t t0 = 0, t1 = 0;
  bool segment = false;
  if (plan.run_detector) {
    // D-FINE: preprocess, forward, post-process, top-1.
    t0 = monotonic_ns();
    const dfine::Preprocessed pre = detector_->preprocess(image);
    t1 = monotonic_ns();
    t.preprocess_ns += t1 - t0;
    const dfine::ForwardOutput out = detector_->forward(pre.input);
    const dfine::Detections dets =
        dfine::postprocess(out.pred_logits, out.pred_boxes, pre.geometry);
    const dfine::TopBox top = dfine::top1(dets, pre.geometry);
    t.detector_ns = monotonic_ns() - t1;
    const Box top_box{top.box[0], top.box[1], top.box[2], top.box[3], top.score};
    segment = state_.observe_detection(r, top.found, top_box);
  } else {
    // Detector skipping: the tracker's predicted box (frame_state.h); detector_ns stays 0.
    segment = state_.observe_tracked(r, plan);
  }

  if (segment) {
    // MobileSAM: preprocess + encoder, then the box prompt.
    t0 = monotonic_ns();
    Result<Tensor> rgb = mobilesam::frame_to_rgb(image);
    throw_if_error(rgb.status());
    const mobilesam::InputGeometry g = mobilesam::input_geometry(frame.height, frame.width);
    const Tensor input = mobilesam::normalize_and_pad(mobilesam::resize_longest_side(*rgb, g));
    t1 = monotonic_ns();
    t.preprocess_ns += t1 - t0;
    const Tensor embedding = segmenter_->image_encoder().forward(input);
    throw_if_error(predictor_.set_image_embedding(embedding, frame.height, frame.width));
    t0 = monotonic_ns();
    t.encoder_ns = t0 - t1;

    mobilesam::Prompt prompt;
    prompt.box = mobilesam::Box{r.box.x0, r.box.y0, r.box.x1, r.box.y1};
    prompt.mask_input = state_.previous_low_res(frame.width, frame.height);
    Result<mobilesam::Prediction> pred = predictor_.predict(prompt);
    throw_if_error(pred.status());
    const Tensor masks = pred->masks.contiguous();  // bool [1, 1, H, W]
    const bool* m = masks.data<bool>();
    r.mask.resize(npix);
    for (size_t i = 0; i < npix; ++i) r.mask[i] = m[i] ? 1 : 0;
    r.mask_iou_prediction = pred->iou_predictions.contiguous().data<float>()[0];
    r.low_res_logits = pred->low_res_logits;
    t.decoder_ns = monotonic_ns() - t0;
    state_.observe_mask(r, frame);
  }
  state_.finish(r);
  t.end_ns = monotonic_ns();
  t.total_ns = t.end_ns - t.start_ns;
  return r;
}

}  // namespace um::pipeline
