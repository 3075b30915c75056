// File: src/pipeline/cuda_frame_processor.cpp
// Purpose: the CUDA frame path as one captured graph per frame size (see cuda_frame_processor.h).
#ifdef UM_WITH_CUDA
#include "pipeline/cuda_frame_processor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <optional>

#include "core/clock.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/stream_context.h"
#include "core/cuda/stream_fork.h"
#include "core/log.h"
#include "models/mobilesam/device_path.h"
#include "pipeline/frame_models.h"
#include "pipeline/mask_weights_cuda.h"
#include "pipeline/quality_stats.h"
#include "pipeline/quality_stats_cuda.h"

namespace um::pipeline {
namespace {

// The timing events of a frame (cuda::Event nodes in the graph). The detector's events are on
// the processor's stream; the segmenter's on the side stream when the models overlap.
enum StageEvent {
  kStart,
  kUploaded,
  kSegmenterStart,
  kSegmenterInput,
  kEncoded,
  kImagePrepared,  // the mask decoder's box-independent half (mobilesam::prepare_image_device)
  kDetectorStart,
  kDetectorInput,
  kDetected,
  kJoined,  // both models done: the box prompt may start
  kDecoded,
  kReadBack,
  kStageEvents
};

}  // namespace

// Everything that belongs to one frame size: fixed device I/O tensors (the graph reads and
// writes these addresses on every replay) and, per in-flight slot, the pinned host staging, the
// events timing the stages and the instantiated graphs. Two slots so that two frames of this
// size can be in flight (submit/complete): the host fills slot 1's input and reads slot 0's
// results while the other frame's graph runs. The device buffers are shared by both slots: the
// graphs run one after the other on the processor's stream, so one never sees the other's.
struct CudaFrameProcessor::FrameGraph {
  struct Slot {
    std::unique_ptr<cuda::PinnedBuffer> host_in;      // frame pixels (H2D)
    std::unique_ptr<cuda::PinnedBuffer> host_box;     // tracked box: score, label, x0..y1 (H2D)
    std::unique_ptr<cuda::PinnedBuffer> host_small;   // top-1 [6] + iou [1] (D2H)
    std::unique_ptr<cuda::PinnedBuffer> host_mask, host_low_res, host_maps, host_stats;
    std::array<std::unique_ptr<cuda::Event>, kStageEvents> events;  // stage boundaries (timing)
    std::unique_ptr<cuda::Event> done;  // recorded after the graph launch: the host waits on it
    // Variant v = (mask prompt ? 1 : 0) + (tracked box instead of D-FINE ? 2 : 0).
    std::array<cudaGraphExec_t, 4> exec{};
  };
  int width = 0, height = 0;
  dfine::Geometry geometry;
  Tensor frame_u8;    // [H, W] uint8 device
  Tensor in_box;      // [6] float32: a tracked box in D-FINE's top-1 layout (detector skipped)
  Tensor out_top;     // [6] float32: score, label, x0, y0, x1, y1
  Tensor out_iou;     // [1] float32
  Tensor out_mask;    // [H, W] uint8
  Tensor out_low_res; // [1, 1, 256, 256] float32
  Tensor prev_low_res;  // [1, 1, 256, 256] float32: the last frame's, the mask prompt of the next
  Tensor w_in, w_edge, w_out;  // [H, W] uint8 weight maps of the mask
  Tensor stats;                // QualityPixelStats (sharpness/contrast sums and histogram)
  std::array<Slot, 2> slots;
  int next_slot = 0;  // slots are used in turn (frames complete in submission order)
  ~FrameGraph() {
    for (Slot& slot : slots) {
      for (cudaGraphExec_t e : slot.exec) {
        if (e) cudaGraphExecDestroy(e);
      }
    }
  }
};


namespace {
DType compute_dtype(Precision p) { return p == Precision::kFp16 ? DType::kF16 : DType::kF32; }
}  // namespace

Result<std::unique_ptr<CudaFrameProcessor>> CudaFrameProcessor::create(const ProcessorOptions& opt) {
  if (opt.backend != Backend::kCuda) return invalid_argument("CudaFrameProcessor: backend must be cuda");
  if (!cuda::available()) {
    return failed_precondition("backend cuda: " + cuda::describe_device(0) +
                               " (use --backend cpu on this machine)");
  }
  UM_RETURN_IF_ERROR(validate_visibility_config(opt.config.visibility));
  UM_RETURN_IF_ERROR(validate_tracker_config(opt.config.tracker));
  UM_RETURN_IF_ERROR(validate_detector_skip_config(opt.config.detector_skip));
  try {
    cuda::install_tensor_backend();
    const size_t before = cuda::default_pool().in_use_bytes();
    dfine::Options dopt;
    dopt.device = Device::cuda();
    dopt.dtype = compute_dtype(opt.precision);
    dopt.half_backbone = opt.dfine_fp16_backbone;
    dopt.tf32_backbone_parts = opt.dfine_tf32_backbone_parts;
    dopt.split_tf32_box_chain = opt.dfine_split_tf32_box_chain;
    UM_ASSIGN_OR_RETURN(FrameModels m, load_frame_models(opt, dopt));
    std::unique_ptr<CudaFrameProcessor> p(
        new CudaFrameProcessor(opt, std::move(m.detector), std::move(m.segmenter)));
    p->synthetic_ = std::move(m.synthetic);
    p->weight_bytes_ = cuda::default_pool().in_use_bytes() - before;
    spdlog::info("frame processor: {} on {} ({} MiB of weights)", p->description(),
                 cuda::describe_device(0), p->weight_bytes_ >> 20);
    return p;
  } catch (const Error& e) {
    return e.status().with_context("creating the CUDA frame processor");
  }
}

CudaFrameProcessor::CudaFrameProcessor(const ProcessorOptions& opt,
                                       std::shared_ptr<const dfine::DFine> detector,
                                       std::shared_ptr<const mobilesam::MobileSam> segmenter)
    : options_(opt),
      graph_pool_(std::make_unique<cuda::DevicePool>(0)),
      segmenter_pool_(std::make_unique<cuda::DevicePool>(0)),
      detector_(std::move(detector)),
      segmenter_(std::move(segmenter)),
      // D-FINE's branch (and what follows the join) first, MobileSAM's image branch in the SMs
      // it leaves: D-FINE is the longer branch. Measured on an H200 (D-FINE-S fp16, session 12):
      // whole frame 2.894 ms in sequence, overlapped 2.643 with equal priorities, 2.573 with
      // D-FINE's first, 2.671 with MobileSAM's first. The graphs keep the captured priorities
      // (cudaGraphInstantiateFlagUseNodePriority).
      stream_(cuda::stream_priorities().highest),
      side_stream_(cuda::stream_priorities().lowest),
      state_(opt.config) {}

std::unique_ptr<CudaFrameProcessor> CudaFrameProcessor::sharing_models() const {
  std::unique_ptr<CudaFrameProcessor> p(new CudaFrameProcessor(options_, detector_, segmenter_));
  p->synthetic_ = synthetic_;
  p->weight_bytes_ = 0;  // the weights are counted once, by the processor that uploaded them
  return p;
}

CudaFrameProcessor::~CudaFrameProcessor() {
  // Device work in flight may still read the graph's buffers (the side stream's work of a frame
  // is joined into stream_ before the frame ends; waited for too, in case a capture failed).
  cudaStreamSynchronize(stream_.get());
  cudaStreamSynchronize(side_stream_.get());
  in_flight_.clear();
  graphs_.clear();
}

size_t CudaFrameProcessor::graph_pool_bytes() const {
  return graph_pool_->reserved_bytes() + segmenter_pool_->reserved_bytes();
}

void CudaFrameProcessor::reset() { state_.reset(); }
// Frames in flight keep their own plan; the next submit() plans on the reset state.

std::string CudaFrameProcessor::description() const {
  std::string d = std::string("cuda ") + precision_name(options_.precision) + ", D-FINE " +
                  dfine::variant_name(detector_->config().variant) +
                  " + MobileSAM vit_t, one graph per frame size";
  d += options_.overlap_models ? ", models overlapped" : ", models in sequence";
  if (options_.precision == Precision::kFp16) {
    d += options_.dfine_fp16_backbone ? ", D-FINE backbone fp16" : ", D-FINE backbone fp32";
    if (!options_.dfine_fp16_backbone && options_.dfine_tf32_backbone_parts > 0) {
      d += " (TF32 convs in its first " + std::to_string(options_.dfine_tf32_backbone_parts) +
           " parts)";
    }
    if (!options_.dfine_split_tf32_box_chain) d += ", box chain FFMA";
  }
  if (!synthetic_.empty()) d += ", SYNTHETIC weights (" + synthetic_ + ")";
  return d;
}

Result<FrameResult> CudaFrameProcessor::process(const Frame& frame) {
  if (!in_flight_.empty()) {
    return failed_precondition("process: " + std::to_string(in_flight_.size()) +
                               " submitted frame(s) not completed yet; complete() them first");
  }
  UM_RETURN_IF_ERROR(submit(frame));
  return complete();
}

int CudaFrameProcessor::variant_count() const {
  return options_.config.detector_skip.every > 1 ? 4 : 2;
}

bool CudaFrameProcessor::variant_used(int v) const {
  const bool mask_prompt = (v & 1) != 0;
  const bool tracked = (v & 2) != 0;
  if (mask_prompt && !options_.config.reuse_low_res_mask) return false;
  if (tracked && options_.config.detector_skip.every <= 1) return false;
  return true;
}

void CudaFrameProcessor::enqueue_frame(FrameGraph& g, int slot_index, int variant) {
  FrameGraph::Slot& slot = g.slots[slot_index];
  const bool with_mask_prompt = (variant & 1) != 0;
  const bool tracked = (variant & 2) != 0;
  cudaStream_t s = stream_.get();
  const size_t npix = static_cast<size_t>(g.width) * g.height;
  UM_CUDA_CHECK(cudaMemcpyAsync(g.frame_u8.raw_data(), slot.host_in->data(), npix,
                                cudaMemcpyHostToDevice, s));
  if (tracked) {
    UM_CUDA_CHECK(cudaMemcpyAsync(g.in_box.raw_data(), slot.host_box->data(), 6 * sizeof(float),
                                  cudaMemcpyHostToDevice, s));
  }
  slot.events[kUploaded]->record(s);
  // MobileSAM's preprocess, image encoder and the mask decoder's box-independent half need only
  // the frame (and the last mask): with overlap_models they run on the side stream (their own
  // pool: the two branches' scratch blocks must not be handed from one to the other while both
  // run) while D-FINE runs here; the box prompt joins them.
  std::optional<cuda::ForkJoin> branch;
  if (options_.overlap_models) branch.emplace(side_stream_, s);
  mobilesam::PreparedImage image;
  {
    cudaStream_t seg = branch ? side_stream_.get() : s;
    cuda::StreamScope on_side(seg);
    cuda::PoolScope side_pool(branch ? segmenter_pool_.get() : graph_pool_.get());
    slot.events[kSegmenterStart]->record(seg);
    const Tensor sam_in = mobilesam::preprocess_device(*segmenter_, g.frame_u8);
    slot.events[kSegmenterInput]->record(seg);
    const Tensor embedding = mobilesam::encode_image_device(*segmenter_, sam_in);
    slot.events[kEncoded]->record(seg);
    image = mobilesam::prepare_image_device(*segmenter_, embedding,
                                            with_mask_prompt ? g.prev_low_res : Tensor());
    slot.events[kImagePrepared]->record(seg);
  }
  Tensor top;
  slot.events[kDetectorStart]->record(s);
  if (tracked) {
    // Detector skipped: the tracker's box (uploaded above) stands in for D-FINE's top-1.
    slot.events[kDetectorInput]->record(s);
    top = g.in_box;
  } else {
    const Tensor det_in = detector_->preprocess_device(g.frame_u8);
    slot.events[kDetectorInput]->record(s);
    const dfine::ForwardOutput out = detector_->forward(det_in);
    top = detector_->top1_device(out, g.geometry);  // [6] float32
  }
  slot.events[kDetected]->record(s);
  if (branch) branch->join();
  slot.events[kJoined]->record(s);
  const mobilesam::BoxPrediction pred =
      mobilesam::predict_box_device(*segmenter_, image, top.slice(0, 2, 6), g.height, g.width);
  if (!tracked) g.out_top.copy_from(top);
  g.out_iou.copy_from(pred.iou_prediction.reshape({1}).to(DType::kF32));
  g.out_mask.copy_from(pred.mask_u8.reshape({g.height, g.width}));
  // The per-pixel post-processing too: W maps and the pixel statistics of the quality scores
  // (the host keeps only the mask's connected components and the shifted-mask IoU).
  compute_mask_weights_cuda(g.out_mask, g.w_in, g.w_edge, g.w_out);
  compute_quality_stats_cuda(g.frame_u8, g.out_mask, g.w_in, g.w_edge, g.w_out, g.stats);
  g.out_low_res.copy_from(pred.low_res_logits.to(DType::kF32));
  if (options_.config.reuse_low_res_mask) g.prev_low_res.copy_from(g.out_low_res);
  slot.events[kDecoded]->record(s);
  const Tensor& top_out = tracked ? g.in_box : g.out_top;
  UM_CUDA_CHECK(cudaMemcpyAsync(slot.host_small->data(), top_out.raw_data(), 6 * sizeof(float),
                                cudaMemcpyDeviceToHost, s));
  UM_CUDA_CHECK(cudaMemcpyAsync(static_cast<float*>(slot.host_small->data()) + 6,
                                g.out_iou.raw_data(), sizeof(float), cudaMemcpyDeviceToHost, s));
  UM_CUDA_CHECK(cudaMemcpyAsync(slot.host_mask->data(), g.out_mask.raw_data(), npix,
                                cudaMemcpyDeviceToHost, s));
  UM_CUDA_CHECK(cudaMemcpyAsync(slot.host_low_res->data(), g.out_low_res.raw_data(),
                                g.out_low_res.nbytes(), cudaMemcpyDeviceToHost, s));
  UM_CUDA_CHECK(cudaMemcpyAsync(slot.host_stats->data(), g.stats.raw_data(),
                                sizeof(QualityPixelStats), cudaMemcpyDeviceToHost, s));
  if (options_.config.output_weights) {
    auto* maps = static_cast<uint8_t*>(slot.host_maps->data());
    const Tensor* src[3] = {&g.w_in, &g.w_edge, &g.w_out};
    for (int i = 0; i < 3; ++i) {
      UM_CUDA_CHECK(cudaMemcpyAsync(maps + i * npix, src[i]->raw_data(), npix,
                                    cudaMemcpyDeviceToHost, s));
    }
  }
  slot.events[kReadBack]->record(s);
}

std::shared_ptr<CudaFrameProcessor::FrameGraph> CudaFrameProcessor::prepare_graph(int width,
                                                                                  int height) {
  // Most recently used first; a stream that alternates between a few sizes (the demo's size
  // cycle, several probes) keeps its graphs instead of re-capturing on every change.
  for (size_t i = 0; i < graphs_.size(); ++i) {
    if (graphs_[i]->width == width && graphs_[i]->height == height) {
      std::rotate(graphs_.begin(), graphs_.begin() + static_cast<long>(i),
                  graphs_.begin() + static_cast<long>(i) + 1);
      return graphs_.front();
    }
  }
  // A new size: what is in flight must finish first (the warm-up below shares the pool's
  // scratch blocks with the graphs in flight, and an evicted graph's buffers return to the pool).
  cuda::synchronize(stream_.get());
  if (graphs_.size() >= kMaxCachedSizes) graphs_.pop_back();
  auto g = std::make_shared<FrameGraph>();
  g->width = width;
  g->height = height;
  g->geometry = detector_->geometry(width, height);
  cuda::StreamScope stream_scope(stream_.get());
  cuda::PoolScope pool_scope(graph_pool_.get());
  const size_t npix = static_cast<size_t>(width) * height;
  g->frame_u8 = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->in_box = Tensor::zeros({6}, DType::kF32, Device::cuda());
  g->out_top = Tensor::zeros({6}, DType::kF32, Device::cuda());
  g->out_iou = Tensor::zeros({1}, DType::kF32, Device::cuda());
  g->out_mask = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->out_low_res = Tensor::zeros({1, 1, 256, 256}, DType::kF32, Device::cuda());
  g->prev_low_res = Tensor::zeros({1, 1, 256, 256}, DType::kF32, Device::cuda());
  g->w_in = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->w_edge = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->w_out = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->stats = make_quality_stats_buffer_cuda();
  for (FrameGraph::Slot& slot : g->slots) {
    slot.host_maps = std::make_unique<cuda::PinnedBuffer>(3 * npix);
    slot.host_stats = std::make_unique<cuda::PinnedBuffer>(sizeof(QualityPixelStats));
    slot.host_in = std::make_unique<cuda::PinnedBuffer>(npix);
    std::memset(slot.host_in->data(), 0, npix);
    slot.host_box = std::make_unique<cuda::PinnedBuffer>(8 * sizeof(float));
    std::memset(slot.host_box->data(), 0, 8 * sizeof(float));
    slot.host_small = std::make_unique<cuda::PinnedBuffer>(16 * sizeof(float));
    slot.host_mask = std::make_unique<cuda::PinnedBuffer>(npix);
    slot.host_low_res = std::make_unique<cuda::PinnedBuffer>(g->out_low_res.nbytes());
    for (auto& e : slot.events) e = std::make_unique<cuda::Event>(true);
    slot.done = std::make_unique<cuda::Event>(false);
  }

  // Warm-up, eagerly: fills every host-side cache (cuDNN/cuBLASLt plans, resize tables) and
  // sizes the pool, so that the captures below allocate nothing from the driver. The graphs
  // share the pool's scratch blocks: they only ever run one after the other on stream_.
  for (int v = 0; v < variant_count(); ++v) {
    if (!variant_used(v)) continue;
    g->slots[0].events[kStart]->record(stream_.get());
    enqueue_frame(*g, 0, v);
  }
  cuda::synchronize(stream_.get());
  for (int slot = 0; slot < 2; ++slot) {
    for (int v = 0; v < variant_count(); ++v) {
      if (!variant_used(v)) continue;
      UM_CUDA_CHECK(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal));
      cudaGraph_t graph = nullptr;
      try {
        g->slots[slot].events[kStart]->record(stream_.get());
        enqueue_frame(*g, slot, v);
      } catch (...) {
        cudaStreamEndCapture(stream_.get(), &graph);
        if (graph) cudaGraphDestroy(graph);
        throw;
      }
      UM_CUDA_CHECK(cudaStreamEndCapture(stream_.get(), &graph));
      const cudaError_t e = cudaGraphInstantiate(&g->slots[slot].exec[v], graph,
                                                 cudaGraphInstantiateFlagUseNodePriority);
      cudaGraphDestroy(graph);  // the executable graph keeps what it needs
      UM_CUDA_CHECK(e);
    }
  }
  ++captures_;
  spdlog::info("frame graph captured for {}x{} ({} MiB in the graph pools)", width, height,
               graph_pool_bytes() >> 20);
  graphs_.insert(graphs_.begin(), std::move(g));
  return graphs_.front();
}

Status CudaFrameProcessor::submit(Frame frame) {
  UM_RETURN_IF_ERROR(check_room_for_submit());
  UM_RETURN_IF_ERROR(validate_frame(frame));
  try {
    InFlight f;
    f.start_ns = monotonic_ns();
    f.graph = prepare_graph(frame.width, frame.height);
    FrameGraph& g = *f.graph;
    f.slot = g.next_slot;
    g.next_slot ^= 1;
    FrameGraph::Slot& slot = g.slots[f.slot];
    std::memcpy(slot.host_in->data(), frame.pixels.data(), frame.pixels.size());
    // Decided on the state of the frames completed so far (frame_processor.h).
    f.plan = state_.plan_detection(frame.width, frame.height);
    if (!f.plan.run_detector) {  // tracked: the graph variant that uploads the predicted box
      const Box& b = f.plan.box;
      const float top[6] = {b.score, 0.0f, b.x0, b.y0, b.x1, b.y1};
      std::memcpy(slot.host_box->data(), top, sizeof top);
    }
    // The mask prompt only when the previous frame of this size produced one (as on the CPU).
    const bool with_mask = state_.previous_low_res(frame.width, frame.height).defined();
    const int variant = (with_mask ? 1 : 0) + (f.plan.run_detector ? 0 : 2);
    try {
      UM_CUDA_CHECK(cudaGraphLaunch(slot.exec[variant], stream_.get()));
      slot.done->record(stream_.get());
    } catch (...) {
      state_.frame_failed();  // planned, never to be finished
      throw;
    }
    f.submit_ns = monotonic_ns();
    f.frame = std::move(frame);
    in_flight_.push_back(std::move(f));
    return Status::Ok();
  } catch (const Error& e) {
    return e.status().with_context("frame " + std::to_string(frame.id));
  } catch (const std::exception& e) {
    return internal_error("frame " + std::to_string(frame.id) + ": " + e.what());
  }
}

Result<FrameResult> CudaFrameProcessor::complete() {
  if (in_flight_.empty()) return failed_precondition("complete: no frame in flight");
  InFlight f = std::move(in_flight_.front());
  in_flight_.pop_front();
  // Nothing in finish() throws after state_.finish(r), so a failure here is a planned frame
  // that the temporal state never finished.
  try {
    return finish(f);
  } catch (const Error& e) {
    state_.frame_failed();
    return e.status().with_context("frame " + std::to_string(f.frame.id));
  } catch (const std::exception& e) {
    state_.frame_failed();
    return internal_error("frame " + std::to_string(f.frame.id) + ": " + e.what());
  }
}

FrameResult CudaFrameProcessor::finish(InFlight& f) {
  const Frame& frame = f.frame;
  FrameGraph& g = *f.graph;
  FrameGraph::Slot& slot = g.slots[f.slot];
  cuda::synchronize(slot.done->get());  // the frame's one host synchronisation
  FrameResult r;
  r.frame_id = frame.id;
  r.width = frame.width;
  r.height = frame.height;
  StageTimings& t = r.timings;
  t.start_ns = f.start_ns;
  t.submit_ns = f.submit_ns;
  t.device_done_ns = monotonic_ns();
  const size_t npix = static_cast<size_t>(frame.width) * frame.height;

  auto ms = [&](int a, int b) { return cuda::Event::elapsed_ms(*slot.events[a], *slot.events[b]); };
  gpu_ms_.upload = ms(kStart, kUploaded);
  gpu_ms_.detector_pre = ms(kDetectorStart, kDetectorInput);
  gpu_ms_.detector = ms(kDetectorInput, kDetected);
  gpu_ms_.segmenter_pre = ms(kSegmenterStart, kSegmenterInput);
  gpu_ms_.encoder = ms(kSegmenterInput, kEncoded);
  gpu_ms_.decoder_image = ms(kEncoded, kImagePrepared);
  gpu_ms_.decoder = ms(kJoined, kDecoded);
  gpu_ms_.readback = ms(kDecoded, kReadBack);
  gpu_ms_.total = ms(kStart, kReadBack);
  auto ns = [](float v) { return static_cast<int64_t>(v * 1e6); };
  t.preprocess_ns = ns(gpu_ms_.upload + gpu_ms_.detector_pre + gpu_ms_.segmenter_pre);
  t.detector_ns = f.plan.run_detector ? ns(gpu_ms_.detector) : 0;
  t.encoder_ns = ns(gpu_ms_.encoder);
  t.decoder_ns = ns(gpu_ms_.decoder_image + gpu_ms_.decoder);
  t.readback_ns = ns(gpu_ms_.readback);

  const float* small = static_cast<const float*>(slot.host_small->data());
  bool use_mask = false;
  if (f.plan.run_detector) {
    r.detector_ran = true;
    const Box box{small[2], small[3], small[4], small[5], small[0]};
    use_mask = state_.observe_detection(r, std::isfinite(small[0]), box);
  } else {
    use_mask = state_.observe_tracked(r, f.plan);
  }
  if (use_mask) {
    const uint8_t* m = static_cast<const uint8_t*>(slot.host_mask->data());
    r.mask.assign(m, m + npix);
    r.mask_iou_prediction = small[6];
    r.low_res_logits = Tensor::empty({1, 1, 256, 256});
    std::memcpy(r.low_res_logits.raw_data(), slot.host_low_res->data(),
                r.low_res_logits.nbytes());
    if (options_.config.output_weights) {
      const auto* maps = static_cast<const uint8_t*>(slot.host_maps->data());
      r.w_in.assign(maps, maps + npix);
      r.w_edge.assign(maps + npix, maps + 2 * npix);
      r.w_out.assign(maps + 2 * npix, maps + 3 * npix);
    }
    QualityPixelStats stats;
    std::memcpy(&stats, slot.host_stats->data(), sizeof stats);
    state_.observe_mask(r, frame, &stats);
  }
  state_.finish(r);
  t.end_ns = monotonic_ns();
  t.total_ns = t.end_ns - t.start_ns;
  return r;
}

}  // namespace um::pipeline
#endif  // UM_WITH_CUDA
