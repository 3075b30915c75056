// File: src/pipeline/frame_processor.h
// Purpose: the per-frame pipeline behind one interface, so the gateway can be tested with any
// implementation and a CUDA implementation can slot in beside the CPU one.
//   Frame -> D-FINE top-1 box (score < tau_conf: no detection) -> MobileSAM (box prompt,
//   single mask) -> mask at the native frame size -> W_in/W_edge/W_out -> quality scores ->
//   tracker (temporal stability) + visibility state -> FrameResult (every stage timed).
//
// Usage (gateway):
//   ProcessorOptions opt;                       // backend, precision, checkpoints, thresholds
//   opt.dfine_checkpoint = "models/phantom/dfine_n_phantom.pth";
//   opt.sam_checkpoint = "models/phantom/mobilesam_phantom.pt";
//   UM_ASSIGN_OR_RETURN(std::unique_ptr<FrameProcessor> p, create_frame_processor(opt));
//   for each frame in stream order:  Result<FrameResult> r = p->process(frame);
//   on a new stream:                 p->reset();
//
// Threading: one FrameProcessor serves one stream from one thread at a time (it keeps the
// previous frame's mask and the visibility state). process() never throws for bad input: it
// returns kOutOfRange/kInvalidArgument (validate_frame); a model failure comes back as the
// um::Error status it carried.
#pragma once

#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/frame.h"
#include "pipeline/tracker.h"
#include "pipeline/visibility.h"

namespace um::pipeline {

enum class Backend : uint8_t { kCpu, kCuda };
enum class Precision : uint8_t { kFp32, kFp16 };
// How D-FINE's 640x640 input is made from the frame (SPEC 1): the official stretch, or the
// keep-ratio letterbox of the custom trainer. Boxes are mapped back accordingly.
enum class DetectorResize : uint8_t { kStretch, kLetterbox };

// "cpu" / "cuda", "fp32" / "fp16", "stretch" / "letterbox"; anything else: kInvalidArgument.
Result<Backend> parse_backend(const std::string& s);
Result<Precision> parse_precision(const std::string& s);
Result<DetectorResize> parse_detector_resize(const std::string& s);
const char* backend_name(Backend b);
const char* precision_name(Precision p);
const char* detector_resize_name(DetectorResize r);

// Detector skipping (issue 10): while the tracker says the target is stable, D-FINE runs only on
// every k-th frame and the frames in between are segmented from the tracker's predicted box
// (FrameTemporalState::plan_detection, frame_state.h, documents every rule).
struct DetectorSkipConfig {
  int every = 1;                  // k: while stable, D-FINE runs on every k-th frame; 1 = off
  float min_box_iou = 0.8f;       // tracker: IoU of the primary track's last two boxes needed
  float min_score = 0.6f;         // the primary track's last detection score needed
  float max_quality_drop = 0.1f;  // combined quality falling by more than this vs the last
                                  // detected frame forces a detection on the next frame
};
// kInvalidArgument naming the first bad field: every < 1, or a threshold that is not a finite
// number in [0, 1]. (Defined in detector_schedule.cpp.)
Status validate_detector_skip_config(const DetectorSkipConfig& config);

// Behaviour of process() that does not depend on the backend.
struct ProcessorConfig {
  VisibilityConfig visibility;     // tau_conf, theta_on/off/cont, lost_after_misses
  TrackerConfig tracker;           // box tracker whose signal is the temporal stability
  // Feed the previous frame's low-res logits (FrameResult::low_res_logits) to MobileSAM as
  // its mask prompt, together with the new box. Off by default (the official single-frame path):
  // a MobileSAM trained with box prompts only, like the phantom model, segments worse with it
  // (measured on one phantom frame: mask IoU 0.94 with the box alone, 0.78 with box + logits).
  bool reuse_low_res_mask = false;
  // Also return W_in/W_edge/W_out (the quality scores need them internally either way).
  bool output_weights = true;
  // D-FINE on every k-th frame while the target is stable (default k = 1: every frame).
  DetectorSkipConfig detector_skip;
};

struct ProcessorOptions {
  Backend backend = Backend::kCpu;
  Precision precision = Precision::kFp32;
  DetectorResize detector_resize = DetectorResize::kStretch;
  std::string dfine_checkpoint;   // any D-FINE variant, official or EMA layout
  std::string sam_checkpoint;     // MobileSAM vit_t state dict
  // A checkpoint FILE that does not exist is replaced by seeded synthetic weights
  // (synthetic_weights.h) instead of failing. Off by default: a clinical gateway must never run
  // random weights unasked (`run` needs models.allow_synthetic; `demo` turns it on). A file that
  // exists but does not load is an error either way.
  bool allow_synthetic = false;
  // fp16 only: run D-FINE's backbone in float16 too (~0.14 ms faster on D-FINE-S, H200) instead
  // of float32 (dfine::Options::half_backbone). Off by default: on the D-FINE-S fixture a float16
  // backbone moves the (nearly tied, < 0.09) top scores by up to 0.018, beyond the 1e-2 the fp16
  // contract allows. The phantom D-FINE-N is unaffected either way.
  bool dfine_fp16_backbone = false;
  // fp16 only, with the float32 backbone above: the convolutions of its first N parts (stem,
  // stages) on TF32 tensor cores (dfine::Options::tf32_backbone_parts). 0: exact float32 FMA.
  int dfine_tf32_backbone_parts = 0;
  // fp16 only: D-FINE's float32 box-chain MLP heads on 3xTF32 tensor cores
  // (dfine::Options::split_tf32_box_chain, the default); false keeps exact FFMA (a baseline).
  bool dfine_split_tf32_box_chain = true;
  // CUDA: MobileSAM's image encoder runs beside D-FINE (two branches of the frame graph) instead
  // of after it; results are the same. false: one after the other (each model's stage time alone).
  bool overlap_models = true;
  ProcessorConfig config;
};

// Which models create_frame_processor(opt) builds from synthetic weights: "dfine", "sam",
// "dfine,sam", or "none" (always "none" without opt.allow_synthetic). For logs, the dashboard
// and the BoneMask metadata key `synthetic_weights`.
std::string synthetic_models_label(const ProcessorOptions& opt);

class FrameProcessor {
 public:
  virtual ~FrameProcessor() = default;

  // Runs the whole frame path on `frame` (the next frame of the stream).
  virtual Result<FrameResult> process(const Frame& frame) = 0;

  // Pipelined use (overlap of frame n+1's upload with frame n's device work; several streams'
  // frames in flight on one GPU at once): submit() starts the frame and returns without waiting
  // for its device work; complete() finishes the OLDEST submitted frame (waits for its device
  // work, runs the host steps) and returns its result. Results come back in submission order;
  // at most max_in_flight() frames are submitted and not completed (submit() beyond that:
  // kFailedPrecondition; complete() with nothing in flight: kFailedPrecondition). A frame that
  // fails validation is not taken (submit returns the error, nothing is in flight for it).
  // process(f) is equivalent to submit(f) then complete() with nothing else in flight.
  // The base implementation (CPU backend) keeps the frame and runs process() in complete().
  // Temporal decisions made at submit() (the mask prompt, detector skipping) see the state as
  // of the last completed frame.
  virtual Status submit(Frame frame);
  virtual Result<FrameResult> complete();
  virtual int max_in_flight() const { return 1; }
  virtual int in_flight() const { return static_cast<int>(pending_.size()); }
  // Forgets the temporal state: previous mask, low-res logits, visibility (back to LOST).
  virtual void reset() = 0;
  // e.g. "cpu fp32"; shown in logs and on the dashboard.
  virtual std::string description() const = 0;
  virtual const ProcessorConfig& config() const = 0;

 protected:
  // kFailedPrecondition when max_in_flight() frames are already in flight: the check every
  // submit() makes first (the base one and the CUDA processor's).
  Status check_room_for_submit() const;
  // Frames submitted and not yet completed (base implementation; the CUDA processor keeps its
  // own in-flight records).
  std::deque<Frame> pending_;
};

// What every process() does around its backend's throwing core `run(frame)`: validate_frame
// first, then um::Error (and any other exception) back as a Status naming the frame.
template <typename Run>
Result<FrameResult> process_guarded(const Frame& frame, Run&& run) {
  UM_RETURN_IF_ERROR(validate_frame(frame));
  try {
    return run(frame);
  } catch (const Error& e) {
    return e.status().with_context("frame " + std::to_string(frame.id));
  } catch (const std::exception& e) {
    return internal_error("frame " + std::to_string(frame.id) + ": " + e.what());
  }
}

// Loads both checkpoints and builds the processor for opt.backend. Errors name the problem:
// kNotFound (missing checkpoint, unless opt.allow_synthetic), kInvalidArgument (bad thresholds), kFailedPrecondition
// (backend cuda asked for in a build without CUDA, or no GPU present).
Result<std::unique_ptr<FrameProcessor>> create_frame_processor(const ProcessorOptions& opt);

// `count` processors for `count` streams that SHARE one copy of the models (loaded once; on the
// GPU the weights are uploaded once), each with its own temporal state (tracker, visibility,
// previous mask) and, on CUDA, its own stream, graphs and activation pool, so that their frames
// can be in flight on the GPU at the same time. Same errors as create_frame_processor;
// count < 1: kInvalidArgument.
Result<std::vector<std::unique_ptr<FrameProcessor>>> create_frame_processors(
    const ProcessorOptions& opt, int count);

}  // namespace um::pipeline
