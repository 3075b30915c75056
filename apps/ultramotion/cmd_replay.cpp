// File: apps/ultramotion/cmd_replay.cpp
// Purpose: `ultramotion replay FILE`: plays a `--record` file back offline through the frame
// pipeline, in recorded order, and compares each new result with the recorded one (mask IoU,
// detection, state, score): a regression check after a model or code change, or a way to run
// a clinician's recording through another checkpoint.
//   ultramotion replay session.umrec [--config FILE] [--dfine CKPT] [--sam CKPT]
//       [--backend cpu|cuda] [--per-frame] [--json] [--min-mask-iou 0.9]
// Exit 1 when --min-mask-iou is given and a frame falls below it, or the file is damaged.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "core/clock.h"
#include "gateway/cli_options.h"
#include "gateway/model_setup.h"
#include "gateway/recording.h"

namespace um::cli {
namespace {

struct ReplayArgs {
  std::string file;
  std::string config;
  gateway::ConfigOverrides overrides;
  bool per_frame = false;
  bool json = false;
  double min_mask_iou = -1.0;
};

double mask_iou(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.empty() && b.empty()) return 1.0;
  const size_t n = std::max(a.size(), b.size());
  uint64_t inter = 0, uni = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool x = i < a.size() && a[i], y = i < b.size() && b[i];
    inter += x && y;
    uni += x || y;
  }
  return uni == 0 ? 1.0 : static_cast<double>(inter) / static_cast<double>(uni);
}

void run_replay(const ReplayArgs& a) {
  gateway::GatewayConfig cfg;
  Status s = a.config.empty() ? Status::Ok() : gateway::load_config_file(a.config, &cfg);
  if (s.ok()) s = gateway::apply_config_overrides(a.overrides, &cfg);
  gateway::resolve_model_paths(&cfg);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    throw CommandFailed(2);
  }
  auto reader = gateway::RecordingReader::open(a.file).value();
  auto proc = gateway::make_frame_processor(cfg).value();

  nlohmann::json frames = nlohmann::json::array();
  uint64_t n = 0, state_agree = 0, detect_agree = 0, below = 0;
  double iou_sum = 0, iou_min = 1.0, score_dmax = 0, ms_sum = 0;
  int last_w = 0, last_h = 0;
  Status damage;
  for (;;) {
    Result<std::optional<gateway::RecordedFrame>> rec = reader->next();
    if (!rec.ok()) {
      damage = rec.status();
      break;
    }
    if (!rec->has_value()) break;
    const gateway::RecordedFrame& r = **rec;
    if (r.frame.width != last_w || r.frame.height != last_h) {
      proc->reset();  // as the gateway does on a size change
      last_w = r.frame.width;
      last_h = r.frame.height;
    }
    const int64_t t0 = monotonic_ns();
    pipeline::FrameResult now = proc->process(r.frame).value();
    const double ms = ns_to_ms(monotonic_ns() - t0);
    const double iou = mask_iou(r.result.mask, now.mask);
    const double dscore = std::fabs(r.result.box.score - now.box.score);
    ++n;
    iou_sum += iou;
    iou_min = std::min(iou_min, iou);
    score_dmax = std::max(score_dmax, dscore);
    ms_sum += ms;
    state_agree += r.result.state == now.state;
    detect_agree += r.result.detected == now.detected;
    below += a.min_mask_iou >= 0 && iou < a.min_mask_iou;
    nlohmann::json f = {{"frame_id", r.frame.id},
                        {"size", {r.frame.width, r.frame.height}},
                        {"mask_iou", iou},
                        {"recorded_state", pipeline::visibility_state_name(r.result.state)},
                        {"replayed_state", pipeline::visibility_state_name(now.state)},
                        {"recorded_score", r.result.box.score},
                        {"replayed_score", now.box.score},
                        {"ms", ms}};
    if (a.per_frame && !a.json)
      std::printf("frame %llu %dx%d: mask IoU %.4f, state %s -> %s, score %.4f -> %.4f, %.0f ms\n",
                  static_cast<unsigned long long>(r.frame.id), r.frame.width, r.frame.height, iou,
                  pipeline::visibility_state_name(r.result.state),
                  pipeline::visibility_state_name(now.state), r.result.box.score, now.box.score,
                  ms);
    frames.push_back(std::move(f));
  }
  nlohmann::json summary = {
      {"file", a.file},
      {"complete", reader->complete()},
      {"frames", n},
      {"processor", proc->description()},
      {"mean_mask_iou", n ? iou_sum / n : 0.0},
      {"min_mask_iou", n ? iou_min : 0.0},
      {"state_agreement", n ? static_cast<double>(state_agree) / n : 0.0},
      {"detection_agreement", n ? static_cast<double>(detect_agree) / n : 0.0},
      {"max_score_difference", score_dmax},
      {"mean_ms_per_frame", n ? ms_sum / n : 0.0},
      {"frames_below_min_mask_iou", below}};
  if (!damage.ok()) summary["damage"] = damage.to_string();
  if (a.json) {
    if (a.per_frame) summary["per_frame"] = frames;
    std::printf("%s\n", summary.dump(2).c_str());
  } else {
    std::printf("replayed %llu frames of '%s' (%s) with %s\n", static_cast<unsigned long long>(n),
                a.file.c_str(), reader->complete() ? "complete" : "INCOMPLETE",
                proc->description().c_str());
    std::printf("  mask IoU vs recorded: mean %.4f, min %.4f\n", n ? iou_sum / n : 0.0,
                n ? iou_min : 0.0);
    std::printf("  state agreement %.1f %%, detection agreement %.1f %%, max score diff %.4f\n",
                n ? 100.0 * state_agree / n : 0.0, n ? 100.0 * detect_agree / n : 0.0, score_dmax);
    std::printf("  %.1f ms per frame\n", n ? ms_sum / n : 0.0);
    if (!damage.ok()) std::printf("  damaged: %s\n", damage.to_string().c_str());
  }
  if (!damage.ok() || below > 0) throw CommandFailed(1);
}

void register_replay(CLI::App& app) {
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* cmd = app.add_subcommand(
      "replay", "Play a --record file back through the pipeline and compare with the recording");
  cmd->add_option("file", a->file, "recording written by --record")->required();
  cmd->add_option("--config", a->config, "YAML config (models, thresholds)");
  gateway::add_config_overrides(cmd, a->overrides);
  cmd->add_flag("--per-frame", a->per_frame, "one line (or JSON entry) per frame");
  cmd->add_flag("--json", a->json, "print a JSON document");
  cmd->add_option("--min-mask-iou", a->min_mask_iou,
                  "fail (exit 1) if a frame's mask IoU with the recording is below this");
  cmd->callback([a] { run_replay(*a); });
}

}  // namespace
UM_REGISTER_COMMAND(register_replay);
}  // namespace um::cli
