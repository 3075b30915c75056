// GPU tests of the CUDA frame processor with the phantom models shipped in models/phantom:
// exactly one host synchronisation per frame once the graph of a frame size is captured, no
// driver allocation per frame, a re-capture on a size change, float32 results equal to the CPU
// processor's, and float16 results close to float32's. Measured errors are printed for the
// closing notes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/cuda/cuda_runtime.h"
#include "cuda_test_support.h"
#include "pipeline/cuda_frame_processor.h"
#include "pipeline/frame_processor.h"
#include "pipeline/phantom.h"
#include "pipeline/phantom_eval.h"
#include "pipeline/phantom_stream.h"
#include "test_support.h"

namespace um::pipeline {
namespace {

ProcessorOptions phantom_options(Backend backend, Precision precision) {
  ProcessorOptions opt;
  opt.backend = backend;
  opt.precision = precision;
  opt.dfine_checkpoint = (test::source_dir() / "models/phantom/dfine_n_phantom.pth").string();
  opt.sam_checkpoint = (test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
  return opt;
}

std::unique_ptr<FrameProcessor> make(Backend backend, Precision precision) {
  auto p = create_frame_processor(phantom_options(backend, precision));
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? std::move(p).value() : nullptr;
}

std::vector<Frame> phantom_frames(int n, FrameSize size, uint64_t seed) {
  PhantomGenerator gen(seed, size);
  std::vector<Frame> frames;
  for (int i = 0; i < n; ++i) frames.push_back(to_frame(gen.next(), static_cast<uint64_t>(i)));
  return frames;
}

TEST(CudaFrameProcessor, OneHostSyncPerFrameAndNoAllocationOnceCaptured) {
  UM_REQUIRE_CUDA();
  auto p = make(Backend::kCuda, Precision::kFp32);
  ASSERT_NE(p, nullptr);
  auto* gpu = dynamic_cast<CudaFrameProcessor*>(p.get());
  ASSERT_NE(gpu, nullptr);
  const auto frames = phantom_frames(6, {558, 422}, 11);
  ASSERT_TRUE(p->process(frames[0]).ok());  // captures the 558x422 graph
  EXPECT_EQ(gpu->graph_captures(), 1);
  const size_t pool = gpu->graph_pool_bytes();
  for (size_t i = 1; i < frames.size(); ++i) {
    const uint64_t before = cuda::host_sync_count();
    Result<FrameResult> r = p->process(frames[i]);
    const uint64_t syncs = cuda::host_sync_count() - before;
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(syncs, 1u) << "frame " << i;
    EXPECT_EQ(gpu->graph_pool_bytes(), pool) << "frame " << i;
  }
  EXPECT_EQ(gpu->graph_captures(), 1);
  std::printf("graph pool %.1f MiB, weights %.1f MiB\n", pool / 1048576.0,
              gpu->weight_bytes() / 1048576.0);
}

TEST(CudaFrameProcessor, SizeChangeRecapturesAndStillMatchesItself) {
  UM_REQUIRE_CUDA();
  auto p = make(Backend::kCuda, Precision::kFp32);
  ASSERT_NE(p, nullptr);
  auto* gpu = dynamic_cast<CudaFrameProcessor*>(p.get());
  const Frame a = phantom_frames(1, {558, 422}, 3)[0];
  const Frame b = phantom_frames(1, {480, 640}, 4)[0];
  Result<FrameResult> ra = p->process(a);
  Result<FrameResult> rb = p->process(b);
  Result<FrameResult> ra2 = p->process(a);
  ASSERT_TRUE(ra.ok() && rb.ok() && ra2.ok());
  EXPECT_EQ(gpu->graph_captures(), 2);  // a, b; a again replays its cached graph
  EXPECT_EQ(rb->mask.size(), size_t{480} * 640 * (rb->detected ? 1 : 0));
  EXPECT_FLOAT_EQ(ra->box.score, ra2->box.score);
  EXPECT_EQ(ra->mask, ra2->mask);
}

TEST(CudaFrameProcessor, Float32MatchesCpuProcessor) {
  UM_REQUIRE_CUDA();
  auto cpu = make(Backend::kCpu, Precision::kFp32);
  auto gpu = make(Backend::kCuda, Precision::kFp32);
  ASSERT_TRUE(cpu && gpu);
  float worst_box = 0, worst_score = 0;
  double worst_iou = 1;
  for (const Frame& f : phantom_frames(4, {558, 422}, 21)) {
    Result<FrameResult> rc = cpu->process(f);
    Result<FrameResult> rg = gpu->process(f);
    ASSERT_TRUE(rc.ok() && rg.ok()) << rc.status().to_string() << rg.status().to_string();
    ASSERT_EQ(rc->detected, rg->detected) << "frame " << f.id;
    EXPECT_EQ(rc->state, rg->state);
    worst_score = std::max(worst_score, std::fabs(rc->box.score - rg->box.score));
    if (!rc->detected) continue;
    for (float d : {rc->box.x0 - rg->box.x0, rc->box.y0 - rg->box.y0, rc->box.x1 - rg->box.x1,
                    rc->box.y1 - rg->box.y1}) {
      worst_box = std::max(worst_box, std::fabs(d));
    }
    worst_iou = std::min(worst_iou, mask_iou(rc->mask, rg->mask));
    EXPECT_NEAR(rc->mask_iou_prediction, rg->mask_iou_prediction, 1e-3f);
    if (rc->mask == rg->mask) {  // then the GPU's weight maps and quality sums must agree exactly
      EXPECT_EQ(rc->w_in, rg->w_in);
      EXPECT_EQ(rc->w_edge, rg->w_edge);
      EXPECT_EQ(rc->w_out, rg->w_out);
      EXPECT_FLOAT_EQ(rc->quality.sharpness, rg->quality.sharpness);
      EXPECT_FLOAT_EQ(rc->quality.contrast, rg->quality.contrast);
      EXPECT_FLOAT_EQ(rc->quality.continuity, rg->quality.continuity);
      EXPECT_EQ(rc->mask_area, rg->mask_area);
    }
  }
  std::printf("fp32 GPU vs CPU: worst box %.2e px, worst score %.2e, worst mask IoU %.6f\n",
              worst_box, worst_score, worst_iou);
  EXPECT_LE(worst_box, 1e-2f);
  EXPECT_LE(worst_score, 1e-4f);
  EXPECT_GE(worst_iou, 0.999);
}

TEST(CudaFrameProcessor, Float16CloseToFloat32) {
  UM_REQUIRE_CUDA();
  auto f32 = make(Backend::kCuda, Precision::kFp32);
  auto f16 = make(Backend::kCuda, Precision::kFp16);
  ASSERT_TRUE(f32 && f16);
  float worst_box = 0, worst_score = 0;
  double worst_iou = 1;
  for (const Frame& f : phantom_frames(6, {558, 422}, 31)) {
    Result<FrameResult> a = f32->process(f);
    Result<FrameResult> b = f16->process(f);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->detected, b->detected) << "frame " << f.id;
    worst_score = std::max(worst_score, std::fabs(a->box.score - b->box.score));
    if (!a->detected) continue;
    for (float d : {a->box.x0 - b->box.x0, a->box.y0 - b->box.y0, a->box.x1 - b->box.x1,
                    a->box.y1 - b->box.y1}) {
      worst_box = std::max(worst_box, std::fabs(d));
    }
    worst_iou = std::min(worst_iou, mask_iou(a->mask, b->mask));
  }
  std::printf("fp16 vs fp32 GPU: worst box %.3f px, worst score %.2e, worst mask IoU %.5f\n",
              worst_box, worst_score, worst_iou);
  EXPECT_LE(worst_box, 1.0f);
  EXPECT_LE(worst_score, 1e-2f);
  EXPECT_GE(worst_iou, 0.99);
}

TEST(CudaFrameProcessor, LowResMaskReuseMatchesCpu) {
  UM_REQUIRE_CUDA();
  ProcessorOptions oc = phantom_options(Backend::kCpu, Precision::kFp32);
  ProcessorOptions og = phantom_options(Backend::kCuda, Precision::kFp32);
  oc.config.reuse_low_res_mask = og.config.reuse_low_res_mask = true;
  auto cpu = create_frame_processor(oc);
  auto gpu = create_frame_processor(og);
  ASSERT_TRUE(cpu.ok() && gpu.ok()) << gpu.status().to_string();
  double worst_iou = 1;
  int prompted = 0;
  bool prev_detected = false;
  for (const Frame& f : phantom_frames(4, {558, 422}, 41)) {
    Result<FrameResult> rc = (*cpu)->process(f);
    Result<FrameResult> rg = (*gpu)->process(f);
    ASSERT_TRUE(rc.ok() && rg.ok());
    ASSERT_EQ(rc->detected, rg->detected);
    if (rc->detected) {
      worst_iou = std::min(worst_iou, mask_iou(rc->mask, rg->mask));
      prompted += prev_detected ? 1 : 0;
    }
    prev_detected = rc->detected;
  }
  std::printf("low-res reuse, fp32 GPU vs CPU: worst mask IoU %.6f over %d mask-prompted frames\n",
              worst_iou, prompted);
  EXPECT_GE(prompted, 1);
  EXPECT_GE(worst_iou, 0.999);
}

// The models side by side (MobileSAM's image branch on a side stream of the graph, its own
// pool) give exactly what they give one after the other: the same kernels on the same inputs,
// so any shared scratch or missing edge between the branches shows as a difference. With the
// mask prompt (the graph's copy of the low-res logits) and with detector skipping (the tracked
// variant forks too), two in flight as the gateway runs it.
TEST(CudaFrameProcessor, OverlappedModelsMatchSequential) {
  UM_REQUIRE_CUDA();
  for (Precision precision : {Precision::kFp16, Precision::kFp32}) {
    ProcessorOptions o = phantom_options(Backend::kCuda, precision);
    o.config.reuse_low_res_mask = true;
    o.config.detector_skip.every = 3;
    ProcessorOptions seq_opt = o;
    seq_opt.overlap_models = false;
    auto overlapped = create_frame_processor(o);
    auto sequential = create_frame_processor(seq_opt);
    ASSERT_TRUE(overlapped.ok() && sequential.ok()) << overlapped.status().to_string();
    EXPECT_NE((*overlapped)->description().find("models overlapped"), std::string::npos);
    EXPECT_NE((*sequential)->description().find("models in sequence"), std::string::npos);
    // Both driven the same way (two in flight, as the gateway does), so that both plan the mask
    // prompt and the skipped detections on the same completed frames.
    auto run = [](FrameProcessor& p, const std::vector<Frame>& frames) {
      std::vector<FrameResult> out;
      for (const Frame& f : frames) {
        EXPECT_TRUE(p.submit(f).ok());
        if (p.in_flight() == 2) {
          Result<FrameResult> r = p.complete();
          EXPECT_TRUE(r.ok()) << r.status().to_string();
          if (r.ok()) out.push_back(std::move(r).value());
        }
      }
      while (p.in_flight() > 0) {
        Result<FrameResult> r = p.complete();
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        if (r.ok()) out.push_back(std::move(r).value());
      }
      return out;
    };
    // A moving bone (a continuous sequence): stable tracks, so the detector gets skipped.
    PhantomStream stream(5, {.size = {558, 422}, .absent_fraction = 0.0});
    std::vector<Frame> frames;
    for (int i = 0; i < 12; ++i) frames.push_back(to_frame(stream.next(), static_cast<uint64_t>(i)));
    const std::vector<FrameResult> want = run(**sequential, frames);
    const std::vector<FrameResult> got = run(**overlapped, frames);
    ASSERT_EQ(got.size(), want.size());
    int detected = 0, skipped = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const FrameResult &a = got[i], &b = want[i];
      const std::string at = std::string(precision_name(precision)) + " frame " + std::to_string(i);
      EXPECT_EQ(a.detector_ran, b.detector_ran) << at;
      EXPECT_EQ(a.detected, b.detected) << at;
      EXPECT_EQ(a.box.score, b.box.score) << at;
      EXPECT_EQ(a.box.x0, b.box.x0) << at;
      EXPECT_EQ(a.box.y0, b.box.y0) << at;
      EXPECT_EQ(a.box.x1, b.box.x1) << at;
      EXPECT_EQ(a.box.y1, b.box.y1) << at;
      EXPECT_EQ(a.mask_iou_prediction, b.mask_iou_prediction) << at;
      EXPECT_EQ(a.mask, b.mask) << at;
      EXPECT_EQ(a.w_edge, b.w_edge) << at;
      EXPECT_EQ(a.state, b.state) << at;
      EXPECT_EQ(a.low_res_logits.defined(), b.low_res_logits.defined()) << at;
      if (a.low_res_logits.defined() && b.low_res_logits.defined()) {
        ASSERT_EQ(a.low_res_logits.shape(), b.low_res_logits.shape()) << at;
        EXPECT_EQ(std::memcmp(a.low_res_logits.raw_data(), b.low_res_logits.raw_data(),
                              a.low_res_logits.nbytes()),
                  0)
            << at;
      }
      detected += a.detected ? 1 : 0;
      skipped += a.detector_ran ? 0 : 1;
    }
    EXPECT_GE(detected, 5) << "the phantom sequence should show the bone";
    EXPECT_GE(skipped, 1) << "no tracked (detector-skipped) frame was compared";
  }
}

// Two frames in flight (submit/complete) give the same results as one at a time, with one host
// synchronisation per completed frame and the frames in submission order.
TEST(CudaFrameProcessor, PipelinedTwoInFlightMatchesOneAtATime) {
  UM_REQUIRE_CUDA();
  auto made = create_frame_processors(phantom_options(Backend::kCuda, Precision::kFp32), 2);
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  FrameProcessor& serial = *(*made)[0];
  FrameProcessor& piped = *(*made)[1];
  EXPECT_EQ(piped.max_in_flight(), 2);
  const auto frames = phantom_frames(6, {558, 422}, 51);
  std::vector<FrameResult> expected;
  for (const Frame& f : frames) {
    Result<FrameResult> r = serial.process(f);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    expected.push_back(std::move(r).value());
  }
  ASSERT_TRUE(piped.process(frames[0]).ok());  // captures the graphs
  piped.reset();
  std::vector<FrameResult> got;
  const uint64_t before = cuda::host_sync_count();
  ASSERT_TRUE(piped.submit(frames[0]).ok());
  for (size_t i = 1; i < frames.size(); ++i) {
    ASSERT_TRUE(piped.submit(frames[i]).ok()) << "frame " << i;
    EXPECT_EQ(piped.in_flight(), 2);
    EXPECT_EQ(piped.submit(frames[i]).code(), StatusCode::kFailedPrecondition);  // full
    Result<FrameResult> r = piped.complete();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    got.push_back(std::move(r).value());
  }
  Result<FrameResult> last = piped.complete();
  ASSERT_TRUE(last.ok());
  got.push_back(std::move(last).value());
  EXPECT_EQ(cuda::host_sync_count() - before, frames.size());
  EXPECT_EQ(piped.complete().status().code(), StatusCode::kFailedPrecondition);  // empty
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].frame_id, frames[i].id);
    EXPECT_EQ(got[i].detected, expected[i].detected) << "frame " << i;
    EXPECT_FLOAT_EQ(got[i].box.x0, expected[i].box.x0) << "frame " << i;
    EXPECT_FLOAT_EQ(got[i].box.score, expected[i].box.score) << "frame " << i;
    EXPECT_EQ(got[i].mask, expected[i].mask) << "frame " << i;
    EXPECT_EQ(got[i].state, expected[i].state) << "frame " << i;
    EXPECT_GT(got[i].timings.device_done_ns, 0);
    EXPECT_GE(got[i].timings.device_done_ns, got[i].timings.submit_ns);
  }
  // process() while frames are in flight would break the order: refused.
  ASSERT_TRUE(piped.submit(frames[0]).ok());
  EXPECT_EQ(piped.process(frames[1]).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(piped.complete().ok());
}

// Processors sharing the models, frames of both in flight at once (two streams on one GPU):
// each gets exactly what it gets alone.
TEST(CudaFrameProcessor, SharedModelsConcurrentStreamsMatchAlone) {
  UM_REQUIRE_CUDA();
  auto made = create_frame_processors(phantom_options(Backend::kCuda, Precision::kFp16), 3);
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  auto* first = dynamic_cast<CudaFrameProcessor*>((*made)[0].get());
  auto* second = dynamic_cast<CudaFrameProcessor*>((*made)[1].get());
  ASSERT_TRUE(first && second);
  EXPECT_GT(first->weight_bytes(), 0u);
  EXPECT_EQ(second->weight_bytes(), 0u);  // the weights exist once
  const Frame a = phantom_frames(1, {558, 422}, 61)[0];
  const Frame b = phantom_frames(1, {640, 480}, 62)[0];
  Result<FrameResult> alone_a = (*made)[2]->process(a);
  (*made)[2]->reset();
  Result<FrameResult> alone_b = (*made)[2]->process(b);
  ASSERT_TRUE(alone_a.ok() && alone_b.ok());
  ASSERT_TRUE((*made)[0]->submit(a).ok());
  ASSERT_TRUE((*made)[1]->submit(b).ok());
  Result<FrameResult> ra = (*made)[0]->complete();
  Result<FrameResult> rb = (*made)[1]->complete();
  ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status().to_string() << rb.status().to_string();
  EXPECT_EQ(ra->mask, alone_a->mask);
  EXPECT_EQ(rb->mask, alone_b->mask);
  EXPECT_FLOAT_EQ(ra->box.score, alone_a->box.score);
  EXPECT_FLOAT_EQ(rb->box.score, alone_b->box.score);
}

// Detector skipping on the GPU (a graph variant fed with the tracker's box) decides and
// segments like the CPU processor: same frames detected, same masks; and pipelined (a plan made
// with a frame in flight) it still skips and segments the moving bone.
TEST(CudaFrameProcessor, DetectorSkippingMatchesCpu) {
  UM_REQUIRE_CUDA();
  ProcessorOptions oc = phantom_options(Backend::kCpu, Precision::kFp32);
  ProcessorOptions og = phantom_options(Backend::kCuda, Precision::kFp32);
  oc.config.detector_skip.every = og.config.detector_skip.every = 3;
  auto cpu = create_frame_processor(oc);
  auto made = create_frame_processors(og, 2);
  ASSERT_TRUE(cpu.ok() && made.ok()) << made.status().to_string();
  PhantomStream stream(5, {.size = {558, 422}, .absent_fraction = 0.0});
  std::vector<PhantomFrame> truth;
  for (int i = 0; i < 10; ++i) truth.push_back(stream.next());
  int skipped = 0;
  double worst_iou = 1;
  for (size_t i = 0; i < truth.size(); ++i) {
    const Frame f = to_frame(truth[i], i);
    Result<FrameResult> rc = (*cpu)->process(f);
    Result<FrameResult> rg = (*made)[0]->process(f);
    ASSERT_TRUE(rc.ok() && rg.ok()) << rc.status().to_string() << rg.status().to_string();
    EXPECT_EQ(rc->detector_ran, rg->detector_ran) << "frame " << i;
    ASSERT_EQ(rc->detected, rg->detected) << "frame " << i;
    skipped += rg->detector_ran ? 0 : 1;
    if (rc->detected) worst_iou = std::min(worst_iou, mask_iou(rc->mask, rg->mask));
    if (!rg->detector_ran) {
      EXPECT_EQ(rg->timings.detector_ns, 0) << "frame " << i;
    }
  }
  std::printf("detector skipping k=3, fp32 GPU vs CPU: %d of %zu frames tracked, worst mask IoU "
              "%.6f\n", skipped, truth.size(), worst_iou);
  EXPECT_GE(skipped, 3);
  EXPECT_GE(worst_iou, 0.999);

  FrameProcessor& piped = *(*made)[1];
  int piped_skipped = 0;
  double worst_truth_iou = 1;
  std::vector<FrameResult> results;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (piped.in_flight() == piped.max_in_flight()) {
      Result<FrameResult> r = piped.complete();
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      results.push_back(std::move(r).value());
    }
    ASSERT_TRUE(piped.submit(to_frame(truth[i], i)).ok());
  }
  while (piped.in_flight() > 0) {
    Result<FrameResult> r = piped.complete();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    results.push_back(std::move(r).value());
  }
  ASSERT_EQ(results.size(), truth.size());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].frame_id, i);
    ASSERT_TRUE(results[i].detected) << "frame " << i;
    piped_skipped += results[i].detector_ran ? 0 : 1;
    worst_truth_iou = std::min(worst_truth_iou, mask_iou(results[i].mask, truth[i].mask));
  }
  std::printf("pipelined k=3: %d of %zu frames tracked, worst mask IoU vs truth %.4f\n",
              piped_skipped, results.size(), worst_truth_iou);
  EXPECT_GE(piped_skipped, 2);
  EXPECT_GT(worst_truth_iou, 0.85);
}

// A frame graph captured on a thread that has ended replays on another thread: the graph owns
// every buffer it uses (activations AND library workspaces come from the processor's pool), none
// belongs to the capturing thread. (The gateway's dispatcher thread may be restarted; a cuBLASLt
// workspace held per thread once made such replays write freed memory.)
TEST(CudaFrameProcessor, GraphCapturedOnAnEndedThreadReplaysElsewhere) {
  UM_REQUIRE_CUDA();
  auto p = make(Backend::kCuda, Precision::kFp16);
  ASSERT_NE(p, nullptr);
  const auto frames = phantom_frames(3, {558, 422}, 71);
  Result<FrameResult> first = internal_error("not run");
  std::thread capturer([&] { first = p->process(frames[0]); });  // captures the graphs
  capturer.join();
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  for (int round = 0; round < 2; ++round) {
    p->reset();
    std::vector<FrameResult> got;
    for (const Frame& f : frames) {
      Result<FrameResult> r = p->process(f);
      ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.status().to_string();
      got.push_back(std::move(r).value());
    }
    EXPECT_EQ(got[0].mask, first->mask);
    EXPECT_FLOAT_EQ(got[0].box.score, first->box.score);
  }
  EXPECT_EQ(dynamic_cast<CudaFrameProcessor*>(p.get())->graph_captures(), 1);
}

}  // namespace
}  // namespace um::pipeline
