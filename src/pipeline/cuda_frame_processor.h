// File: src/pipeline/cuda_frame_processor.h
// Purpose: the CUDA implementation of FrameProcessor: both models GPU-resident (weights uploaded
// once, in float32 or float16), and the whole device part of a frame — upload of the gray frame,
// D-FINE preprocess + forward + top-1 box, MobileSAM preprocess + encoder + box prompt + mask
// decoder + mask at frame size, W maps and quality pixel statistics, read-back of the results —
// captured ONCE per frame size as a CUDA graph on the processor's own stream and replayed for
// every frame. The host waits once per frame (the read-back), then runs the backend-independent
// steps (frame_state.h: tracker, quality, visibility) exactly as the CPU processor does.
//
// Pipelining (submit/complete, frame_processor.h): two frames may be in flight; each frame size
// has two staging slots with their own pinned buffers and graph instances, so the host prepares
// and launches frame n+1 (and later reads frame n's results) while frame n's graph runs.
// Graph variants per slot: with/without the previous low-res mask as prompt (reuse_low_res_mask)
// and with a TRACKED box instead of D-FINE (detector skipping, ProcessorConfig::detector_skip:
// the box, planned on the host by FrameTemporalState::plan_detection, is uploaded with the
// pixels and D-FINE is not run). Only the variants the config can use are captured.
//
// Overlap (ProcessorOptions::overlap_models, on by default): MobileSAM's preprocess, image
// encoder and the mask decoder's box-independent half do not depend on D-FINE's box, so the
// graph runs them as a parallel branch (a side stream forked after the upload, joined before the
// box prompt) beside D-FINE's; each alone is a chain of small kernels that leaves part of the GPU
// idle. Same kernels, same results.
// The GPU always runs MobileSAM (a graph has no data-dependent branch); when the top-1 score is
// below tau_conf the host ignores the mask, as the CPU path would not have computed it.
// Memory: the graph's activations live in a private DevicePool (device_pool.h), sized by the
// first (warm-up) run of a frame size and reused by every replay; nothing is allocated per frame.
// Processors made by sharing_models() share the weights, each with its own stream and pool, so
// several streams' frames run concurrently on one GPU.
// Only built with the CUDA backend (UM_WITH_CUDA).
//
// Usage: through create_frame_processor(opt) with opt.backend = Backend::kCuda; benchmarks and
// tests use the extra accessors (gpu_stage_ms(), graph_pool_bytes(), graph_captures()).
#pragma once

#include <array>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/cuda/cuda_runtime.h"
#include "core/cuda/device_pool.h"
#include "core/cuda/stream_fork.h"
#include "models/dfine/dfine.h"
#include "models/mobilesam/mobilesam.h"
#include "pipeline/frame_processor.h"
#include "pipeline/frame_state.h"

namespace um::pipeline {

// GPU time of each stage of the last frame, in milliseconds (CUDA events inside the graph).
// With overlapped models the detector's stages and the segmenter's run at the same time (each
// then shares the GPU with the other); the decoder starts when both are done.
struct GpuStageTimes {
  float upload = 0;          // frame host -> device
  float detector_pre = 0;    // gray -> D-FINE input
  float detector = 0;        // D-FINE forward + top-1 box
  float segmenter_pre = 0;   // gray -> MobileSAM input (antialiased resize, normalise, pad)
  float encoder = 0;         // TinyViT
  float decoder_image = 0;   // the mask decoder's box-independent half (in the image branch)
  float decoder = 0;         // from the box: prompt encoder + mask decoder + mask at frame size
  float readback = 0;        // results device -> host
  float total = 0;           // first to last event
};

class CudaFrameProcessor final : public FrameProcessor {
 public:
  // Errors: kFailedPrecondition without a usable GPU; those of loading the checkpoints.
  // With config.reuse_low_res_mask, a second graph per size prompts with the previous frame's
  // low-res logits too (kept on the device, copied there by the graph itself).
  static Result<std::unique_ptr<CudaFrameProcessor>> create(const ProcessorOptions& opt);
  ~CudaFrameProcessor() override;

  // A new processor for another stream: the same GPU-resident weights (uploaded once), its own
  // stream, graphs, activation pool and temporal state, so both can have frames in flight.
  std::unique_ptr<CudaFrameProcessor> sharing_models() const;

  // process() = submit() + complete(); kFailedPrecondition while frames are in flight.
  Result<FrameResult> process(const Frame& frame) override;
  // Two frames may be in flight: submit() copies the pixels into pinned staging and launches
  // the frame's graph without waiting; complete() waits for the oldest (its one host
  // synchronisation) and runs the host steps. Frame n+1's upload then follows frame n's device
  // work directly on the stream, and the host part of frame n overlaps frame n+1's device work.
  Status submit(Frame frame) override;
  Result<FrameResult> complete() override;
  int max_in_flight() const override { return 2; }
  int in_flight() const override { return static_cast<int>(in_flight_.size()); }
  void reset() override;
  std::string description() const override;
  const ProcessorConfig& config() const override { return options_.config; }

  const GpuStageTimes& gpu_stage_ms() const { return gpu_ms_; }
  // Device memory held by the frame graph's pools (activations, workspaces, I/O buffers).
  size_t graph_pool_bytes() const;
  // How many times a frame graph was captured (once per frame size; the graphs of the last
  // kMaxCachedSizes sizes are kept).
  int graph_captures() const { return captures_; }
  // Device memory held by the weights (the default pool's in-use bytes after load).
  size_t weight_bytes() const { return weight_bytes_; }

 private:
  struct FrameGraph;
  // A frame submitted and not yet completed.
  struct InFlight {
    Frame frame;
    std::shared_ptr<FrameGraph> graph;  // kept alive even if evicted from the cache meanwhile
    int slot = 0;
    DetectionPlan plan;  // run_detector false: a tracked frame (the box comes from the tracker)
    int64_t start_ns = 0, submit_ns = 0;
  };
  CudaFrameProcessor(const ProcessorOptions& opt, std::shared_ptr<const dfine::DFine> detector,
                     std::shared_ptr<const mobilesam::MobileSam> segmenter);
  // The host part of a completed frame: the wait, the results, the temporal state.
  FrameResult finish(InFlight& f);
  // The captured graphs for this frame size (captured now if not cached).
  std::shared_ptr<FrameGraph> prepare_graph(int width, int height);
  static constexpr size_t kMaxCachedSizes = 4;
  // Graph variants: bit 0 = mask prompt, bit 1 = tracked box instead of D-FINE (detector skip).
  int variant_count() const;
  bool variant_used(int variant) const;
  // The device work of one frame, queued on stream_ (run eagerly once, then captured per slot).
  void enqueue_frame(FrameGraph& g, int slot, int variant);

  ProcessorOptions options_;
  // Declared before everything that holds device memory from it: destroyed last.
  std::unique_ptr<cuda::DevicePool> graph_pool_;
  // The segmenter branch's activations when the models overlap (never shared with graph_pool_'s
  // blocks, which the detector branch reuses while it runs).
  std::unique_ptr<cuda::DevicePool> segmenter_pool_;
  std::shared_ptr<const dfine::DFine> detector_;
  std::shared_ptr<const mobilesam::MobileSam> segmenter_;
  cuda::Stream stream_;
  cuda::SideStream side_stream_;  // MobileSAM's image branch when the models overlap
  std::vector<std::shared_ptr<FrameGraph>> graphs_;  // most recently used first
  std::deque<InFlight> in_flight_;                   // submitted, not completed (oldest first)
  FrameTemporalState state_;
  GpuStageTimes gpu_ms_;
  int captures_ = 0;
  size_t weight_bytes_ = 0;
  std::string synthetic_;
};

}  // namespace um::pipeline
