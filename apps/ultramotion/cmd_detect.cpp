// File: apps/ultramotion/cmd_detect.cpp
// Purpose: `ultramotion detect`: run D-FINE on one frame on the CPU.
//   ultramotion detect --checkpoint PATH --image FRAME.png [--variant auto|n|s|m|l|x]
//                      [--num-classes N] [--resize stretch|letterbox] [--json]
//                      [--dump OUT.safetensors]
// --json prints {"variant","num_classes","detections":[{"label","score","box":[x0,y0,x1,y1]}]}
// sorted by score; --dump writes pred_logits, pred_boxes, labels, boxes, scores with the
// fixtures' names and shapes. Errors (unreadable file, wrong checkpoint) throw um::Error, which
// main prints as one line and turns into exit code 1.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "command_registry.h"
#include "core/status.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "models/dfine/dfine.h"

namespace {

struct DetectArgs {
  std::string checkpoint, image, variant = "auto", resize = "stretch", dump;
  int num_classes = -1;
  bool json = false;
};

void run_detect(const DetectArgs& a) {
  um::dfine::Options opt;
  opt.variant = um::Result<um::dfine::Variant>(um::dfine::parse_variant(a.variant)).value();
  opt.resize = um::Result<um::dfine::ResizeMode>(um::dfine::parse_resize_mode(a.resize)).value();
  opt.num_classes = a.num_classes;
  auto frame = um::io::read_image(a.image);
  if (!frame.ok()) throw um::Error(frame.status().with_context("reading image " + a.image));
  auto model = um::dfine::DFine::load(a.checkpoint, opt);
  if (!model.ok()) throw um::Error(model.status());
  const um::dfine::DFine& m = **model;
  const um::dfine::Preprocessed p = m.preprocess(*frame);
  const um::dfine::ForwardOutput out = m.forward(p.input);
  const um::dfine::Detections det =
      um::dfine::postprocess(out.pred_logits, out.pred_boxes, p.geometry, opt.num_queries);
  if (!a.dump.empty()) {
    um::io::TensorMap t{{"pred_logits", out.pred_logits}, {"pred_boxes", out.pred_boxes},
                        {"labels", det.labels}, {"boxes", det.boxes}, {"scores", det.scores}};
    um::throw_if_error(um::io::write_safetensors(a.dump, t).with_context("writing " + a.dump));
  }
  if (a.json) {
    nlohmann::json j;
    j["variant"] = um::dfine::variant_name(m.config().variant);
    j["num_classes"] = m.config().num_classes;
    j["detections"] = nlohmann::json::array();
    for (const auto& d : det.items) {
      j["detections"].push_back({{"label", d.label},
                                 {"score", d.score},
                                 {"box", {d.box[0], d.box[1], d.box[2], d.box[3]}}});
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s\n", m.config().summary().c_str());
  const um::dfine::TopBox best = um::dfine::top1(det, p.geometry);
  if (best.found) {
    std::printf("top-1: label %lld score %.4f box [%.1f, %.1f, %.1f, %.1f]\n",
                static_cast<long long>(best.label), best.score, best.box[0], best.box[1], best.box[2],
                best.box[3]);
  }
  for (size_t i = 0; i < det.items.size() && i < 10; ++i) {
    const auto& d = det.items[i];
    std::printf("%2zu label %lld score %.4f box [%.1f, %.1f, %.1f, %.1f]\n", i,
                static_cast<long long>(d.label), d.score, d.box[0], d.box[1], d.box[2], d.box[3]);
  }
}

void register_detect(CLI::App& app) {
  auto args = std::make_shared<DetectArgs>();
  CLI::App* cmd = app.add_subcommand("detect", "Run D-FINE on one frame (CPU)");
  cmd->add_option("--checkpoint", args->checkpoint, "D-FINE checkpoint (.pth/.pt/.safetensors)")->required();
  cmd->add_option("--image", args->image, "Frame (PNG or JPEG)")->required();
  cmd->add_option("--variant", args->variant, "auto|n|s|m|l|x (must match the checkpoint)")
      ->capture_default_str();
  cmd->add_option("--num-classes", args->num_classes, "Expected class count (default: from checkpoint)");
  cmd->add_option("--resize", args->resize, "stretch|letterbox")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print detections as JSON");
  cmd->add_option("--dump", args->dump, "Write raw outputs and detections as safetensors");
  cmd->callback([args] { run_detect(*args); });
}

}  // namespace

UM_REGISTER_COMMAND(register_detect);
