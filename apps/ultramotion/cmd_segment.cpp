// File: apps/ultramotion/cmd_segment.cpp
// Purpose: `ultramotion segment`: MobileSAM on one frame with a box and/or point prompts.
//   ultramotion segment --checkpoint PATH --image FRAME.png (--box x0,y0,x1,y1 | --point x,y,label ...)...
//                       [--multimask] [--mask-out MASK.png] [--overlay-out OVERLAY.png] [--json]
//                       [--dump OUT.safetensors]
// Coordinates are frame pixels; labels 1 (foreground) / 0 (background). At most one box (SAM's
// predictor takes one). The prompt is validated against the frame BEFORE the model is loaded, so
// bad input fails fast with one "error: <CODE>: <message>" line (exit 1, main.cpp).
// Outputs: --mask-out writes the mask with the highest predicted IoU as 8-bit 0/255 PNG;
// --overlay-out the frame with that mask tinted, the box and the points drawn; --json prints the
// IoU predictions, mask areas (pixels), the selected mask and measured timings; --dump writes
// mask_logits [1,C,H,W], iou_predictions [1,C], low_res_logits [1,C,256,256] (the fixture names).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "command_registry.h"
#include "core/status.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/predictor.h"

namespace {

using um::mobilesam::Box;
using um::mobilesam::Point;
using um::mobilesam::Prediction;
using um::mobilesam::Prompt;

struct SegmentOptions {
  std::string checkpoint, image, mask_out, overlay_out, dump;
  std::vector<std::string> boxes, points;
  bool multimask = false, json = false;
};

// "a,b,c" -> exactly n finite numbers, or kInvalidArgument naming the option.
std::vector<double> parse_numbers(const std::string& text, size_t n, const char* option) {
  std::vector<double> v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double d = std::strtod(item.c_str(), &end);
    if (item.empty() || end == item.c_str() || *end != '\0' || !std::isfinite(d)) {
      throw um::Error(um::StatusCode::kInvalidArgument,
                      std::string(option) + " '" + text + "': '" + item + "' is not a number");
    }
    v.push_back(d);
  }
  if (v.size() != n) {
    throw um::Error(um::StatusCode::kInvalidArgument,
                    std::string(option) + " '" + text + "': expected " + std::to_string(n) +
                        " comma-separated numbers");
  }
  return v;
}

Prompt build_prompt(const SegmentOptions& opt) {
  Prompt p;
  p.multimask = opt.multimask;
  if (opt.boxes.size() > 1) {
    throw um::Error(um::StatusCode::kInvalidArgument,
                    "--box given " + std::to_string(opt.boxes.size()) + " times; MobileSAM takes one box");
  }
  if (!opt.boxes.empty()) {
    const auto b = parse_numbers(opt.boxes[0], 4, "--box");
    p.box = Box{float(b[0]), float(b[1]), float(b[2]), float(b[3])};
  }
  for (const std::string& s : opt.points) {
    const auto v = parse_numbers(s, 3, "--point");
    if (v[2] != std::floor(v[2])) {
      throw um::Error(um::StatusCode::kInvalidArgument,
                      "--point '" + s + "': the label must be 0 or 1");
    }
    p.points.push_back(Point{float(v[0]), float(v[1]), int(v[2])});
  }
  return p;
}

int best_mask(const Prediction& r) {
  const float* iou = r.iou_predictions.data<float>();
  const int64_t c = r.iou_predictions.numel();
  return int(std::max_element(iou, iou + c) - iou);
}

um::io::Image mask_image(const Prediction& r, int index, int w, int h) {
  um::io::Image m{w, h, 1, std::vector<uint8_t>(size_t(w) * h)};
  const bool* src = r.masks.data<bool>() + int64_t(index) * w * h;
  for (size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = src[i] ? 255 : 0;
  return m;
}

um::io::Image overlay_image(const um::io::Image& frame, const Prediction& r, int index,
                            const Prompt& p) {
  const int w = frame.width, h = frame.height;
  um::io::Image out{w, h, 3, std::vector<uint8_t>(size_t(w) * h * 3)};
  const bool* m = r.masks.data<bool>() + int64_t(index) * w * h;
  for (int i = 0; i < w * h; ++i) {
    for (int c = 0; c < 3; ++c) {
      const int src = frame.channels == 1 ? frame.pixels[i] : frame.pixels[size_t(i) * frame.channels + c];
      static constexpr int kTint[3] = {255, 60, 60};
      out.pixels[size_t(i) * 3 + c] = uint8_t(m[i] ? (src + kTint[c]) / 2 : src);
    }
  }
  auto put = [&](int x, int y, uint8_t r0, uint8_t g0, uint8_t b0) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* px = &out.pixels[(size_t(y) * w + x) * 3];
    px[0] = r0;
    px[1] = g0;
    px[2] = b0;
  };
  if (p.box) {
    const int x0 = int(std::lround(p.box->x0)), y0 = int(std::lround(p.box->y0));
    const int x1 = int(std::lround(p.box->x1)), y1 = int(std::lround(p.box->y1));
    for (int x = x0; x <= x1; ++x) put(x, y0, 0, 255, 0), put(x, y1, 0, 255, 0);
    for (int y = y0; y <= y1; ++y) put(x0, y, 0, 255, 0), put(x1, y, 0, 255, 0);
  }
  for (const Point& pt : p.points) {
    const int cx = int(std::lround(pt.x)), cy = int(std::lround(pt.y));
    for (int dy = -2; dy <= 2; ++dy)
      for (int dx = -2; dx <= 2; ++dx) {
        if (pt.label == 1) put(cx + dx, cy + dy, 0, 255, 0);
        else put(cx + dx, cy + dy, 255, 0, 255);
      }
  }
  return out;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void run_segment(const SegmentOptions& opt) {
  const Prompt prompt = build_prompt(opt);
  auto frame = um::io::read_image(opt.image);
  um::throw_if_error(frame.status().with_context("reading --image " + opt.image));
  // Validate before the (slow) model load so bad prompts fail fast.
  bool clamped = false;
  um::throw_if_error(
      um::mobilesam::check_prompt(prompt, frame->width, frame->height, &clamped).status());
  if (clamped && !opt.json) {
    std::fprintf(stderr, "note: the box was clamped to the %dx%d frame\n", frame->width,
                 frame->height);
  }

  auto model = um::mobilesam::MobileSam::load(opt.checkpoint);
  um::throw_if_error(model.status());
  um::mobilesam::Predictor predictor(*model);
  auto t0 = std::chrono::steady_clock::now();
  um::throw_if_error(predictor.set_image(*frame));
  const double encoder_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  auto result = predictor.predict(prompt);
  um::throw_if_error(result.status());
  const double decoder_ms = ms_since(t0);
  const Prediction& r = *result;

  const int w = frame->width, h = frame->height;
  const int64_t count = r.iou_predictions.numel();
  std::vector<int64_t> areas(count, 0);
  for (int64_t c = 0; c < count; ++c) {
    const bool* m = r.masks.data<bool>() + c * w * h;
    areas[c] = std::count(m, m + int64_t(w) * h, true);
  }
  const int best = best_mask(r);

  if (!opt.mask_out.empty()) {
    um::throw_if_error(um::io::write_png(opt.mask_out, mask_image(r, best, w, h)));
  }
  if (!opt.overlay_out.empty()) {
    um::throw_if_error(um::io::write_png(opt.overlay_out, overlay_image(*frame, r, best, prompt)));
  }
  if (!opt.dump.empty()) {
    um::throw_if_error(um::io::write_safetensors(
        opt.dump, {{"mask_logits", r.mask_logits},
                   {"iou_predictions", r.iou_predictions},
                   {"low_res_logits", r.low_res_logits}}));
  }

  if (opt.json) {
    nlohmann::json out;
    out["frame"] = {{"width", w}, {"height", h}};
    std::vector<float> iou(r.iou_predictions.data<float>(), r.iou_predictions.data<float>() + count);
    out["iou_predictions"] = iou;
    out["mask_area"] = areas;
    out["selected"] = best;
    out["box_clamped"] = r.box_clamped;
    out["timing_ms"] = {{"encoder", encoder_ms}, {"decoder", decoder_ms}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("frame %dx%d, %lld mask(s); encoder %.1f ms, prompt+decoder %.1f ms\n", w, h,
              static_cast<long long>(count), encoder_ms, decoder_ms);
  for (int64_t c = 0; c < count; ++c) {
    std::printf("  mask %lld: predicted IoU %.4f, area %lld px%s\n", static_cast<long long>(c),
                r.iou_predictions.data<float>()[c], static_cast<long long>(areas[c]),
                c == best ? "  (selected)" : "");
  }
}

void register_segment(CLI::App& app) {
  auto opt = std::make_shared<SegmentOptions>();
  CLI::App* cmd = app.add_subcommand("segment", "Segment one frame with MobileSAM (box/point prompts)");
  cmd->add_option("--checkpoint", opt->checkpoint, "MobileSAM checkpoint (mobile_sam.pt or .safetensors)")
      ->required();
  cmd->add_option("--image", opt->image, "frame (PNG or JPEG, gray or RGB)")->required();
  cmd->add_option("--box", opt->boxes, "box prompt x0,y0,x1,y1 in frame pixels (at most one)");
  cmd->add_option("--point", opt->points, "point prompt x,y,label (label 1 fg, 0 bg); repeatable");
  cmd->add_flag("--multimask", opt->multimask, "predict 3 masks (official multimask_output)");
  cmd->add_option("--mask-out", opt->mask_out, "write the best mask as a 0/255 PNG");
  cmd->add_option("--overlay-out", opt->overlay_out, "write the frame with the mask and prompts drawn");
  cmd->add_flag("--json", opt->json, "print IoU predictions, mask areas and timings as JSON");
  cmd->add_option("--dump", opt->dump, "write mask_logits, iou_predictions, low_res_logits (safetensors)");
  cmd->callback([opt] { run_segment(*opt); });
}

}  // namespace

UM_REGISTER_COMMAND(register_segment);
