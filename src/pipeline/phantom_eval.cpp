// File: src/pipeline/phantom_eval.cpp
// Purpose: the phantom evaluation loop and its metrics (definitions in phantom_eval.h).
#include "pipeline/phantom_eval.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "pipeline/phantom_stream.h"

namespace um::pipeline {

double box_iou(double ax0, double ay0, double ax1, double ay1, double bx0, double by0, double bx1,
               double by1) {
  const double iw = std::max(0.0, std::min(ax1, bx1) - std::max(ax0, bx0));
  const double ih = std::max(0.0, std::min(ay1, by1) - std::max(ay0, by0));
  const double inter = iw * ih;
  const double area_a = std::max(0.0, ax1 - ax0) * std::max(0.0, ay1 - ay0);
  const double area_b = std::max(0.0, bx1 - bx0) * std::max(0.0, by1 - by0);
  const double uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0.0;
}

double mask_iou(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  uint64_t inter = 0, uni = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool x = a[i] != 0, y = b[i] != 0;
    inter += x && y;
    uni += x || y;
  }
  // Pixels beyond the shorter mask only count if set (sizes normally match).
  for (size_t i = n; i < a.size(); ++i) uni += a[i] != 0;
  for (size_t i = n; i < b.size(); ++i) uni += b[i] != 0;
  return uni ? static_cast<double>(inter) / static_cast<double>(uni) : 0.0;
}

namespace {
// Median of a non-empty sample (mean of the two middle values for an even count).
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace

Result<PhantomEvalReport> evaluate_on_phantom(FrameProcessor& processor,
                                              const PhantomEvalOptions& options) {
  if (options.frames < 1) {
    return invalid_argument("eval-phantom: --frames must be >= 1, got " +
                            std::to_string(options.frames));
  }
  PhantomEvalReport rep;
  rep.processor = processor.description();
  rep.sequence = options.sequence;
  PhantomGenerator gen(options.seed, options.size);
  PhantomStreamOptions so;
  if (options.size) so.size = *options.size;
  PhantomStream stream(options.seed, so);
  double box_sum = 0, mask_sum = 0, ms_sum = 0, model_sum = 0, det_sum = 0;
  std::vector<double> frame_ms, model_ms;
  rep.min_box_iou = rep.min_mask_iou = 1.0;
  if (options.sequence) processor.reset();
  for (int i = 0; i < options.frames; ++i) {
    const PhantomFrame truth = options.sequence ? stream.next() : gen.next();
    if (!options.sequence) processor.reset();
    Result<FrameResult> r = processor.process(to_frame(truth, static_cast<uint64_t>(i)));
    if (!r.ok()) return r.status().with_context("eval-phantom frame " + std::to_string(i));
    const FrameResult& res = *r;

    PhantomFrameEval fe;
    fe.index = i;
    fe.width = truth.params.width;
    fe.height = truth.params.height;
    fe.has_bone = truth.has_box;
    fe.detected = res.detected;
    fe.score = res.box.score;
    fe.total_ms = static_cast<double>(res.timings.total_ns) * 1e-6;
    const StageTimings& t = res.timings;
    fe.model_ms = static_cast<double>(t.preprocess_ns + t.detector_ns + t.encoder_ns +
                                      t.decoder_ns + t.readback_ns) * 1e-6;
    fe.detector_ms = static_cast<double>(t.detector_ns) * 1e-6;
    fe.detector_ran = res.detector_ran;
    if (res.detector_ran) ++rep.detector_frames;
    if (truth.has_box) {
      ++rep.bone_frames;
      if (res.detected) {
        ++rep.detected_bone_frames;
        fe.box_iou = static_cast<float>(box_iou(res.box.x0, res.box.y0, res.box.x1, res.box.y1,
                                                truth.box[0], truth.box[1], truth.box[2],
                                                truth.box[3]));
        fe.mask_iou = static_cast<float>(mask_iou(res.mask, truth.mask));
      }
      box_sum += fe.box_iou;
      mask_sum += fe.mask_iou;
      rep.min_box_iou = std::min<double>(rep.min_box_iou, fe.box_iou);
      rep.min_mask_iou = std::min<double>(rep.min_mask_iou, fe.mask_iou);
    } else {
      ++rep.empty_frames;
      if (res.detected) ++rep.false_detections;
    }
    ms_sum += fe.total_ms;
    model_sum += fe.model_ms;
    det_sum += fe.detector_ms;
    frame_ms.push_back(fe.total_ms);
    model_ms.push_back(fe.model_ms);
    rep.per_frame.push_back(fe);
    if (options.on_frame) options.on_frame(i, fe);
  }
  rep.frames = options.frames;
  if (rep.bone_frames > 0) {
    rep.mean_box_iou = box_sum / rep.bone_frames;
    rep.mean_mask_iou = mask_sum / rep.bone_frames;
    rep.detection_rate = static_cast<double>(rep.detected_bone_frames) / rep.bone_frames;
  } else {
    rep.min_box_iou = rep.min_mask_iou = 0;
  }
  rep.mean_frame_ms = ms_sum / rep.frames;
  rep.mean_model_ms = model_sum / rep.frames;
  rep.mean_detector_ms = det_sum / rep.frames;
  rep.median_frame_ms = median(frame_ms);
  rep.median_model_ms = median(model_ms);
  return rep;
}

std::string format_report(const PhantomEvalReport& r) {
  char buf[1536];
  std::snprintf(buf, sizeof(buf),
                "processor        %s\n"
                "frames           %d (%d with bone, %d without)%s\n"
                "box IoU          mean %.4f  min %.4f\n"
                "mask IoU         mean %.4f  min %.4f\n"
                "detection rate   %.4f (%d / %d bone frames)\n"
                "false detections %d / %d bone-free frames\n"
                "time per frame   %.1f ms (mean, whole frame path), median %.1f ms\n"
                "model time       %.2f ms mean, %.2f ms median per frame (GPU time on cuda)\n"
                "D-FINE ran on    %d / %d frames (%.2f ms mean per frame)\n",
                r.processor.c_str(), r.frames, r.bone_frames, r.empty_frames,
                r.sequence ? ", one moving sequence" : ", independent", r.mean_box_iou,
                r.min_box_iou, r.mean_mask_iou, r.min_mask_iou, r.detection_rate,
                r.detected_bone_frames, r.bone_frames, r.false_detections, r.empty_frames,
                r.mean_frame_ms, r.median_frame_ms, r.mean_model_ms, r.median_model_ms,
                r.detector_frames, r.frames, r.mean_detector_ms);
  return buf;
}

std::string format_comparison(const std::string& label_a, const PhantomEvalReport& a,
                              const std::string& label_b, const PhantomEvalReport& b) {
  std::string out =
      "run    frames  D-FINE  box IoU  mask IoU  mask min  det.rate  false  frame ms  "
      "model ms  model med  D-FINE ms\n";
  auto row = [&](const std::string& label, const PhantomEvalReport& r) {
    char buf[256];
    std::snprintf(buf, sizeof(buf),
                  "%-6s %6d  %6d  %7.4f  %8.4f  %8.4f  %8.4f  %5d  %8.2f  %8.2f  %9.2f  %9.2f\n",
                  label.c_str(), r.frames, r.detector_frames, r.mean_box_iou, r.mean_mask_iou,
                  r.min_mask_iou, r.detection_rate, r.false_detections, r.mean_frame_ms,
                  r.mean_model_ms, r.median_model_ms, r.mean_detector_ms);
    out += buf;
  };
  row(label_a, a);
  row(label_b, b);
  char buf[256];
  const double ratio = a.mean_model_ms > 0 ? b.mean_model_ms / a.mean_model_ms : 0.0;
  std::snprintf(buf, sizeof(buf),
                "mask IoU %s - %s: %+.4f; model time per frame %s / %s: %.3f (mean), "
                "D-FINE frames %d vs %d\n",
                label_b.c_str(), label_a.c_str(), b.mean_mask_iou - a.mean_mask_iou,
                label_b.c_str(), label_a.c_str(), ratio, b.detector_frames, a.detector_frames);
  out += buf;
  return out;
}

}  // namespace um::pipeline
