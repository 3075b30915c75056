// File: src/pipeline/cuda_frame_processor.cpp
// Purpose: the CUDA frame path as one captured graph per frame size (see cuda_frame_processor.h).
#ifdef UM_WITH_CUDA
#include "pipeline/cuda_frame_processor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>

#include "core/clock.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/stream_context.h"
#include "core/log.h"
#include "models/mobilesam/device_path.h"
#include "pipeline/frame_models.h"
#include "pipeline/mask_weights_cuda.h"
#include "pipeline/quality_stats.h"
#include "pipeline/quality_stats_cuda.h"

namespace um::pipeline {

// Everything that belongs to one frame size: fixed device I/O tensors (the graph reads and
// writes these addresses on every replay), the pinned host staging, the events timing the
// stages, and the instantiated graph.
struct CudaFrameProcessor::FrameGraph {
  int width = 0, height = 0;
  dfine::Geometry geometry;
  Tensor frame_u8;    // [H, W] uint8 device
  Tensor out_top;     // [6] float32: score, label, x0, y0, x1, y1
  Tensor out_iou;     // [1] float32
  Tensor out_mask;    // [H, W] uint8
  Tensor out_low_res; // [1, 1, 256, 256] float32
  Tensor prev_low_res;  // [1, 1, 256, 256] float32: the last frame's, the mask prompt of the next
  Tensor w_in, w_edge, w_out;  // [H, W] uint8 weight maps of the mask
  Tensor stats;                // QualityPixelStats (sharpness/contrast sums and histogram)
  std::unique_ptr<cuda::PinnedBuffer> host_maps, host_stats;
  std::unique_ptr<cuda::PinnedBuffer> host_in, host_small, host_mask, host_low_res;
  std::array<std::unique_ptr<cuda::Event>, 8> events;
  // [0]: box prompt alone; [1]: box + the previous low-res logits (reuse_low_res_mask only).
  std::array<cudaGraphExec_t, 2> exec{};
  ~FrameGraph() {
    for (cudaGraphExec_t e : exec) {
      if (e) cudaGraphExecDestroy(e);
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
  try {
    cuda::install_tensor_backend();
    const size_t before = cuda::default_pool().in_use_bytes();
    dfine::Options dopt;
    dopt.device = Device::cuda();
    dopt.dtype = compute_dtype(opt.precision);
    dopt.half_backbone = opt.dfine_fp16_backbone;
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
      detector_(std::move(detector)),
      segmenter_(std::move(segmenter)),
      state_(opt.config) {}

std::unique_ptr<CudaFrameProcessor> CudaFrameProcessor::sharing_models() const {
  std::unique_ptr<CudaFrameProcessor> p(new CudaFrameProcessor(options_, detector_, segmenter_));
  p->synthetic_ = synthetic_;
  p->weight_bytes_ = 0;  // the weights are counted once, by the processor that uploaded them
  return p;
}

CudaFrameProcessor::~CudaFrameProcessor() {
  // Device work in flight may still read the graph's buffers.
  cudaStreamSynchronize(stream_.get());
  graphs_.clear();
}

size_t CudaFrameProcessor::graph_pool_bytes() const { return graph_pool_->reserved_bytes(); }

void CudaFrameProcessor::reset() { state_.reset(); }

std::string CudaFrameProcessor::description() const {
  std::string d = std::string("cuda ") + precision_name(options_.precision) + ", D-FINE " +
                  dfine::variant_name(detector_->config().variant) +
                  " + MobileSAM vit_t, one graph per frame size";
  if (options_.precision == Precision::kFp16) {
    d += options_.dfine_fp16_backbone ? ", D-FINE backbone fp16" : ", D-FINE backbone fp32";
  }
  if (!synthetic_.empty()) d += ", SYNTHETIC weights (" + synthetic_ + ")";
  return d;
}

Result<FrameResult> CudaFrameProcessor::process(const Frame& frame) {
  return process_guarded(frame, [this](const Frame& f) { return run(f); });
}

void CudaFrameProcessor::enqueue_frame(FrameGraph& g, bool with_mask_prompt) {
  cudaStream_t s = stream_.get();
  const size_t npix = static_cast<size_t>(g.width) * g.height;
  UM_CUDA_CHECK(cudaMemcpyAsync(g.frame_u8.raw_data(), g.host_in->data(), npix,
                                cudaMemcpyHostToDevice, s));
  g.events[1]->record(s);
  const Tensor det_in = detector_->preprocess_device(g.frame_u8);
  g.events[2]->record(s);
  Tensor top;
  {
    const dfine::ForwardOutput out = detector_->forward(det_in);
    top = detector_->top1_device(out, g.geometry);  // [6] float32
  }
  g.events[3]->record(s);
  const Tensor sam_in = mobilesam::preprocess_device(*segmenter_, g.frame_u8);
  g.events[4]->record(s);
  const Tensor embedding = mobilesam::encode_image_device(*segmenter_, sam_in);
  g.events[5]->record(s);
  const mobilesam::BoxPrediction pred = mobilesam::predict_box_device(
      *segmenter_, embedding, top.slice(0, 2, 6), g.height, g.width,
      with_mask_prompt ? g.prev_low_res : Tensor());
  g.out_top.copy_from(top);
  g.out_iou.copy_from(pred.iou_prediction.reshape({1}).to(DType::kF32));
  g.out_mask.copy_from(pred.mask_u8.reshape({g.height, g.width}));
  // The per-pixel post-processing too: W maps and the pixel statistics of the quality scores
  // (the host keeps only the mask's connected components and the shifted-mask IoU).
  compute_mask_weights_cuda(g.out_mask, g.w_in, g.w_edge, g.w_out);
  compute_quality_stats_cuda(g.frame_u8, g.out_mask, g.w_in, g.w_edge, g.w_out, g.stats);
  g.out_low_res.copy_from(pred.low_res_logits.to(DType::kF32));
  if (options_.config.reuse_low_res_mask) g.prev_low_res.copy_from(g.out_low_res);
  g.events[6]->record(s);
  UM_CUDA_CHECK(cudaMemcpyAsync(g.host_small->data(), g.out_top.raw_data(), 6 * sizeof(float),
                                cudaMemcpyDeviceToHost, s));
  UM_CUDA_CHECK(cudaMemcpyAsync(static_cast<float*>(g.host_small->data()) + 6, g.out_iou.raw_data(),
                                sizeof(float), cudaMemcpyDeviceToHost, s));
  UM_CUDA_CHECK(cudaMemcpyAsync(g.host_mask->data(), g.out_mask.raw_data(), npix,
                                cudaMemcpyDeviceToHost, s));
  UM_CUDA_CHECK(cudaMemcpyAsync(g.host_low_res->data(), g.out_low_res.raw_data(),
                                g.out_low_res.nbytes(), cudaMemcpyDeviceToHost, s));
  UM_CUDA_CHECK(cudaMemcpyAsync(g.host_stats->data(), g.stats.raw_data(),
                                sizeof(QualityPixelStats), cudaMemcpyDeviceToHost, s));
  if (options_.config.output_weights) {
    auto* maps = static_cast<uint8_t*>(g.host_maps->data());
    const Tensor* src[3] = {&g.w_in, &g.w_edge, &g.w_out};
    for (int i = 0; i < 3; ++i) {
      UM_CUDA_CHECK(cudaMemcpyAsync(maps + i * npix, src[i]->raw_data(), npix,
                                    cudaMemcpyDeviceToHost, s));
    }
  }
  g.events[7]->record(s);
}

CudaFrameProcessor::FrameGraph& CudaFrameProcessor::prepare_graph(int width, int height) {
  // Most recently used first; a stream that alternates between a few sizes (the demo's size
  // cycle, several probes) keeps its graphs instead of re-capturing on every change.
  for (size_t i = 0; i < graphs_.size(); ++i) {
    if (graphs_[i]->width == width && graphs_[i]->height == height) {
      std::rotate(graphs_.begin(), graphs_.begin() + static_cast<long>(i),
                  graphs_.begin() + static_cast<long>(i) + 1);
      return *graphs_.front();
    }
  }
  if (graphs_.size() >= kMaxCachedSizes) {
    // The evicted graph's buffers go back to the pool only after its last replay ended.
    cuda::synchronize(stream_.get());
    graphs_.pop_back();
  }
  auto g = std::make_unique<FrameGraph>();
  g->width = width;
  g->height = height;
  g->geometry = detector_->geometry(width, height);
  cuda::StreamScope stream_scope(stream_.get());
  cuda::PoolScope pool_scope(graph_pool_.get());
  const size_t npix = static_cast<size_t>(width) * height;
  g->frame_u8 = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->out_top = Tensor::zeros({6}, DType::kF32, Device::cuda());
  g->out_iou = Tensor::zeros({1}, DType::kF32, Device::cuda());
  g->out_mask = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->out_low_res = Tensor::zeros({1, 1, 256, 256}, DType::kF32, Device::cuda());
  g->prev_low_res = Tensor::zeros({1, 1, 256, 256}, DType::kF32, Device::cuda());
  g->w_in = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->w_edge = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->w_out = Tensor::zeros({height, width}, DType::kU8, Device::cuda());
  g->stats = make_quality_stats_buffer_cuda();
  g->host_maps = std::make_unique<cuda::PinnedBuffer>(3 * npix);
  g->host_stats = std::make_unique<cuda::PinnedBuffer>(sizeof(QualityPixelStats));
  g->host_in = std::make_unique<cuda::PinnedBuffer>(npix);
  std::memset(g->host_in->data(), 0, npix);
  g->host_small = std::make_unique<cuda::PinnedBuffer>(16 * sizeof(float));
  g->host_mask = std::make_unique<cuda::PinnedBuffer>(npix);
  g->host_low_res = std::make_unique<cuda::PinnedBuffer>(g->out_low_res.nbytes());
  for (auto& e : g->events) e = std::make_unique<cuda::Event>(true);

  // Warm-up, eagerly: fills every host-side cache (cuDNN/cuBLASLt plans, resize tables) and
  // sizes the pool, so that the captures below allocate nothing from the driver. The graphs
  // share the pool's scratch blocks: they only ever run one after the other on stream_.
  const int variants = options_.config.reuse_low_res_mask ? 2 : 1;
  for (int v = 0; v < variants; ++v) {
    g->events[0]->record(stream_.get());
    enqueue_frame(*g, v == 1);
  }
  cuda::synchronize(stream_.get());
  for (int v = 0; v < variants; ++v) {
    UM_CUDA_CHECK(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal));
    cudaGraph_t graph = nullptr;
    try {
      g->events[0]->record(stream_.get());
      enqueue_frame(*g, v == 1);
    } catch (...) {
      cudaStreamEndCapture(stream_.get(), &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    UM_CUDA_CHECK(cudaStreamEndCapture(stream_.get(), &graph));
    const cudaError_t e = cudaGraphInstantiate(&g->exec[v], graph, 0);
    cudaGraphDestroy(graph);  // the executable graph keeps what it needs
    UM_CUDA_CHECK(e);
  }
  ++captures_;
  spdlog::info("frame graph captured for {}x{} ({} MiB in the graph pool)", width, height,
               graph_pool_->reserved_bytes() >> 20);
  graphs_.insert(graphs_.begin(), std::move(g));
  return *graphs_.front();
}

FrameResult CudaFrameProcessor::run(const Frame& frame) {
  FrameResult r;
  r.frame_id = frame.id;
  r.width = frame.width;
  r.height = frame.height;
  StageTimings& t = r.timings;
  t.start_ns = monotonic_ns();
  FrameGraph& g = prepare_graph(frame.width, frame.height);
  const size_t npix = static_cast<size_t>(frame.width) * frame.height;

  std::memcpy(g.host_in->data(), frame.pixels.data(), npix);
  // The mask prompt only when the previous frame of this size produced one (as on the CPU).
  const bool with_mask = state_.previous_low_res(frame.width, frame.height).defined();
  UM_CUDA_CHECK(cudaGraphLaunch(g.exec[with_mask ? 1 : 0], stream_.get()));
  cuda::synchronize(stream_.get());  // the frame's one host synchronisation

  auto ms = [&](int a, int b) { return cuda::Event::elapsed_ms(*g.events[a], *g.events[b]); };
  gpu_ms_ = {ms(0, 1), ms(1, 2), ms(2, 3), ms(3, 4), ms(4, 5), ms(5, 6), ms(6, 7), ms(0, 7)};
  auto ns = [](float v) { return static_cast<int64_t>(v * 1e6); };
  t.preprocess_ns = ns(gpu_ms_.upload + gpu_ms_.detector_pre + gpu_ms_.segmenter_pre);
  t.detector_ns = ns(gpu_ms_.detector);
  t.encoder_ns = ns(gpu_ms_.encoder);
  t.decoder_ns = ns(gpu_ms_.decoder);
  t.readback_ns = ns(gpu_ms_.readback);
  r.detector_ran = true;

  const float* small = static_cast<const float*>(g.host_small->data());
  const Box box{small[2], small[3], small[4], small[5], small[0]};
  if (state_.observe_detection(r, std::isfinite(small[0]), box)) {
    const uint8_t* m = static_cast<const uint8_t*>(g.host_mask->data());
    r.mask.assign(m, m + npix);
    r.mask_iou_prediction = small[6];
    r.low_res_logits = Tensor::empty({1, 1, 256, 256});
    std::memcpy(r.low_res_logits.raw_data(), g.host_low_res->data(), r.low_res_logits.nbytes());
    if (options_.config.output_weights) {
      const auto* maps = static_cast<const uint8_t*>(g.host_maps->data());
      r.w_in.assign(maps, maps + npix);
      r.w_edge.assign(maps + npix, maps + 2 * npix);
      r.w_out.assign(maps + 2 * npix, maps + 3 * npix);
    }
    QualityPixelStats stats;
    std::memcpy(&stats, g.host_stats->data(), sizeof stats);
    state_.observe_mask(r, frame, &stats);
  }
  state_.finish(r);
  t.end_ns = monotonic_ns();
  t.total_ns = t.end_ns - t.start_ns;
  return r;
}

}  // namespace um::pipeline
#endif  // UM_WITH_CUDA
