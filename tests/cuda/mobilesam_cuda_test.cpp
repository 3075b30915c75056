// File: tests/cuda/mobilesam_cuda_test.cpp
// Purpose: MobileSAM on the GPU against the CPU reference.
//   - the SAM ops (nn/ops_sam.h) and the view-based window split/merge, GPU vs CPU, random data;
//   - per model (the fixture checkpoint + frame + box when present, and always the phantom
//     checkpoint shipped in models/phantom on a phantom frame with its ground-truth box):
//     preprocess_device vs the CPU preprocessing (equal), float32 image embedding vs the CPU
//     encoder (<= 1e-4 * scale), predict_box_device vs the CPU Predictor (low-res logits
//     <= 1e-3, IoU <= 1e-4, masks equal except pixels whose CPU logit is within 1e-3 of 0), the
//     same with a mask input, float16 vs float32 on the GPU (mask IoU >= 0.99);
//   - the convenience Predictor on a GPU model against the official references (fixture);
//   - the frame path makes no host synchronisation and no driver allocation once warm, and
//     replays from a captured CUDA graph with the eager result.
// Measured errors are printed ("[mobilesam-cuda] ...") for the lead's report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_pool.h"
#include "core/cuda/stream_context.h"
#include "cuda_test_support.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "models/mobilesam/device_path.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/predictor.h"
#include "models/mobilesam/preprocess.h"
#include "models/mobilesam/window_partition.h"
#include "nn/ops_sam.h"
#include "pipeline/phantom.h"
#include "test_support.h"

namespace um::mobilesam {
namespace {

using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;

Tensor random_u8(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t = Tensor::empty(s, DType::kU8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(rng() & 255);
  return t;
}

float max_abs(const Tensor& cpu) {
  const Tensor c = cpu.contiguous();
  float m = 0.f;
  for (int64_t i = 0; i < c.numel(); ++i) m = std::max(m, std::fabs(c.data<float>()[i]));
  return m;
}

// ---- the SAM ops ---------------------------------------------------------------------------

TEST(SamOpsCuda, NormalizePadMatchesCpu) {
  UM_REQUIRE_CUDA();
  for (int64_t c : {1, 3}) {
    const Tensor x = random_u8({300, 217, c}, static_cast<uint32_t>(c));
    const Tensor ref = nn::sam_normalize_pad(x, 320, DType::kF32);
    const Tensor g = x.to(Device::cuda());
    EXPECT_LE(max_abs_diff_gpu(nn::sam_normalize_pad(g, 320, DType::kF32), ref), 1e-6f);
    EXPECT_EQ(max_abs_diff_gpu(nn::sam_normalize_pad(g, 320, DType::kF16),
                               ref.to(DType::kF16).to(DType::kF32)),
              0.f);
    // A strided (permuted CHW) image.
    const Tensor chw = x.permute({2, 0, 1}).contiguous().to(Device::cuda());
    EXPECT_LE(max_abs_diff_gpu(nn::sam_normalize_pad(chw.permute({1, 2, 0}), 320, DType::kF32),
                               ref),
              1e-6f);
  }
}

TEST(SamOpsCuda, BoxPromptMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor gauss = random_cpu({2, 128}, 5, -2.f, 2.f);
  const Tensor corner = random_cpu({2, 256}, 6);
  nn::SamBoxPromptParams p{422.f, 558.f, 774.0 / 422.0, 1024.0 / 558.0, 1024.f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-50.f, 600.f);  // some corners need the clamp
  float worst = 0.f;
  for (int i = 0; i < 20; ++i) {
    const float x0 = d(rng), y0 = d(rng);
    const Tensor box = Tensor::from_vector({x0, y0, x0 + 40.f, y0 + 90.f}, {1, 4});
    const Tensor ref = nn::sam_box_prompt(box, gauss, corner, p);
    const Tensor gpu = nn::sam_box_prompt(box.to(Device::cuda()), gauss.to(Device::cuda()),
                                          corner.to(Device::cuda()), p);
    worst = std::max(worst, max_abs_diff_gpu(gpu, ref));
  }
  {  // NaN and inf coordinates: clamped alike on both devices (NaN -> 0), never NaN out.
    const Tensor box = Tensor::from_vector({NAN, 10.f, INFINITY, -INFINITY}, {4});
    const Tensor ref = nn::sam_box_prompt(box, gauss, corner, p);
    worst = std::max(worst, max_abs_diff_gpu(nn::sam_box_prompt(box.to(Device::cuda()),
                                                                gauss.to(Device::cuda()),
                                                                corner.to(Device::cuda()), p),
                                             ref));
  }
  std::printf("[mobilesam-cuda] sam_box_prompt GPU vs CPU max |diff| %.3g\n", worst);
  EXPECT_LE(worst, 1e-5f);  // sinf/cosf vs libm: an ulp or two
  // A box that is a strided row of a larger device tensor (as D-FINE's top-1 slice).
  const Tensor rows = random_cpu({3, 6}, 8, 0.f, 400.f);
  const Tensor row = rows.select(0, 1).slice(0, 1, 5);
  EXPECT_LE(max_abs_diff_gpu(nn::sam_box_prompt(rows.to(Device::cuda()).select(0, 1).slice(0, 1, 5),
                                                gauss.to(Device::cuda()),
                                                corner.to(Device::cuda()), p),
                             nn::sam_box_prompt(row.contiguous(), gauss, corner, p)),
            1e-5f);
}

TEST(SamOpsCuda, ThresholdMatchesCpu) {
  UM_REQUIRE_CUDA();
  Tensor x = random_cpu({3, 41, 37}, 9);
  for (int64_t i = 0; i < x.numel(); i += 7) x.data<float>()[i] = 0.f;  // exactly 0 -> 0
  const Tensor ref = nn::threshold_u8(x, 0.f);
  const Tensor g32 = nn::threshold_u8(to_gpu(x), 0.f).to(Device::cpu());
  ASSERT_EQ(g32.shape(), ref.shape());
  EXPECT_EQ(std::memcmp(g32.raw_data(), ref.raw_data(), ref.nbytes()), 0);
  const Tensor ref16 = nn::threshold_u8(x.to(DType::kF16).to(DType::kF32), 0.f);
  const Tensor g16 = nn::threshold_u8(to_gpu(x, DType::kF16), 0.f).to(Device::cpu());
  EXPECT_EQ(std::memcmp(g16.raw_data(), ref16.raw_data(), ref16.nbytes()), 0);
  // Strided input (transposed view).
  const Tensor gt = nn::threshold_u8(to_gpu(x).transpose(1, 2), 0.f).to(Device::cpu());
  const Tensor rt = nn::threshold_u8(x.transpose(1, 2).contiguous(), 0.f);
  EXPECT_EQ(std::memcmp(gt.raw_data(), rt.raw_data(), rt.nbytes()), 0);
}

TEST(SamOpsCuda, WindowPartitionMatchesCpu) {
  UM_REQUIRE_CUDA();
  for (const auto& [h, w, ws] : {std::tuple<int64_t, int64_t, int64_t>{16, 16, 7}, {14, 14, 7},
                                 {64, 64, 14}}) {
    const Tensor x = random_cpu({1, h * w, 8}, 10);
    const Tensor win = window_partition(x, h, w, ws);
    EXPECT_EQ(max_abs_diff_gpu(window_partition(to_gpu(x), h, w, ws), win), 0.f);
    EXPECT_EQ(max_abs_diff_gpu(window_partition(to_gpu(x, DType::kF16), h, w, ws),
                               win.to(DType::kF16).to(DType::kF32)),
              0.f);
    EXPECT_EQ(max_abs_diff_gpu(window_reverse(to_gpu(win), 1, h, w, ws), x), 0.f);
  }
}

// ---- the model -----------------------------------------------------------------------------

struct ModelCase {
  std::string name, checkpoint;
  io::Image frame;  // gray
  float box[4] = {0, 0, 0, 0};
};

Tensor frame_tensor(const io::Image& img) {
  Tensor t = Tensor::empty({img.height, img.width}, DType::kU8);
  std::memcpy(t.raw_data(), img.pixels.data(), img.pixels.size());
  return t;
}

// Masks: pixels that differ, skipping those whose reference logit is within 1e-3 of 0.
int64_t mask_flips(const Tensor& mask_u8_gpu, const Tensor& ref_logits_cpu, int64_t* ambiguous) {
  const Tensor m = mask_u8_gpu.to(Device::cpu()).contiguous();
  const Tensor r = ref_logits_cpu.contiguous();
  EXPECT_EQ(m.numel(), r.numel());
  int64_t flips = 0;
  *ambiguous = 0;
  for (int64_t i = 0; i < std::min(m.numel(), r.numel()); ++i) {
    const float l = r.data<float>()[i];
    if (std::fabs(l) <= 1e-3f) {
      ++*ambiguous;
      continue;
    }
    flips += (m.data<uint8_t>()[i] != 0) != (l > 0.f);
  }
  return flips;
}

double mask_iou(const Tensor& a_gpu, const Tensor& b_gpu, int64_t* area_a, int64_t* area_b) {
  const Tensor a = a_gpu.to(Device::cpu()).contiguous(), b = b_gpu.to(Device::cpu()).contiguous();
  int64_t inter = 0, uni = 0;
  *area_a = *area_b = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const bool x = a.data<uint8_t>()[i] != 0, y = b.data<uint8_t>()[i] != 0;
    *area_a += x;
    *area_b += y;
    inter += x && y;
    uni += x || y;
  }
  return uni == 0 ? 1.0 : double(inter) / double(uni);
}

void check_model(const ModelCase& c) {
  const char* n = c.name.c_str();
  auto cpu = MobileSam::load(c.checkpoint);
  auto g32 = MobileSam::load(c.checkpoint, Device::cuda(), DType::kF32);
  auto g16 = MobileSam::load(c.checkpoint, Device::cuda(), DType::kF16);
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  ASSERT_TRUE(g32.ok()) << g32.status().to_string();
  ASSERT_TRUE(g16.ok()) << g16.status().to_string();
  const int64_t h = c.frame.height, w = c.frame.width;
  const Tensor frame_gpu = frame_tensor(c.frame).to(Device::cuda());
  const Tensor box_gpu = Tensor::from_vector({c.box[0], c.box[1], c.box[2], c.box[3]}, {4})
                             .to(Device::cuda());

  // Preprocess.
  const InputGeometry g = input_geometry(h, w);
  const Tensor cpu_in = normalize_and_pad(resize_longest_side(frame_to_rgb(c.frame).value(), g));
  const Tensor in32 = preprocess_device(**g32, frame_gpu);
  const float pre_diff = max_abs_diff_gpu(in32, cpu_in);
  std::printf("[mobilesam-cuda] %s preprocess f32 max |diff| %.3g\n", n, pre_diff);
  EXPECT_LE(pre_diff, 1e-6f) << n;
  const Tensor in16 = preprocess_device(**g16, frame_gpu);
  EXPECT_EQ(in16.dtype(), DType::kF16);
  EXPECT_EQ(max_abs_diff_gpu(in16, cpu_in.to(DType::kF16).to(DType::kF32)), 0.f) << n;

  // Image embedding, float32.
  const Tensor cpu_emb = (*cpu)->image_encoder().forward(cpu_in);
  const Tensor emb32 = encode_image_device(**g32, in32);
  const float emb_scale = max_abs(cpu_emb), emb_diff = max_abs_diff_gpu(emb32, cpu_emb);
  std::printf("[mobilesam-cuda] %s embedding f32 max |diff| %.3g (scale %.3g)\n", n, emb_diff,
              emb_scale);
  EXPECT_LE(emb_diff, 1e-4f * std::max(emb_scale, 1.f)) << n;

  // Box prediction, float32, end to end and on the CPU's own embedding (decoder only).
  Predictor pred(*cpu);
  ASSERT_TRUE(pred.set_image_embedding(cpu_emb, h, w).ok());
  Prompt prompt;
  prompt.box = Box{c.box[0], c.box[1], c.box[2], c.box[3]};
  auto ref = pred.predict(prompt);
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  for (const bool same_embedding : {false, true}) {
    const Tensor emb = same_embedding ? cpu_emb.to(Device::cuda()) : emb32;
    const BoxPrediction p = predict_box_device(**g32, emb, box_gpu, h, w, {}, true);
    const float lr = max_abs_diff_gpu(p.low_res_logits, ref->low_res_logits);
    const float iou = max_abs_diff_gpu(p.iou_prediction, ref->iou_predictions);
    int64_t ambiguous = 0;
    const int64_t flips = mask_flips(p.mask_u8, ref->mask_logits, &ambiguous);
    std::printf("[mobilesam-cuda] %s f32 %s: low-res logits %.3g, iou %.3g, mask flips %lld "
                "(%lld ambiguous skipped), frame logits %.3g\n",
                n, same_embedding ? "decoder on the CPU embedding" : "end to end", lr, iou,
                static_cast<long long>(flips), static_cast<long long>(ambiguous),
                max_abs_diff_gpu(p.mask_logits, ref->mask_logits));
    EXPECT_LE(lr, 1e-3f) << n;
    EXPECT_LE(iou, 1e-4f) << n;
    EXPECT_EQ(flips, 0) << n;
    EXPECT_EQ(p.mask_u8.shape(), (Shape{h, w}));
    EXPECT_EQ(p.mask_u8.dtype(), DType::kU8);
  }

  // Mask input (the previous low-res logits), float32.
  const BoxPrediction first = predict_box_device(**g32, emb32, box_gpu, h, w);
  Prompt with_mask = prompt;
  with_mask.mask_input = ref->low_res_logits;
  auto ref_m = pred.predict(with_mask);
  ASSERT_TRUE(ref_m.ok()) << ref_m.status().to_string();
  const BoxPrediction pm = predict_box_device(**g32, emb32, box_gpu, h, w, first.low_res_logits);
  int64_t amb_m = 0;
  const int64_t flips_m = mask_flips(pm.mask_u8, ref_m->mask_logits, &amb_m);
  const float lr_m = max_abs_diff_gpu(pm.low_res_logits, ref_m->low_res_logits);
  std::printf("[mobilesam-cuda] %s f32 with mask input: low-res logits %.3g, mask flips %lld\n", n,
              lr_m, static_cast<long long>(flips_m));
  EXPECT_LE(lr_m, 1e-3f) << n;
  EXPECT_EQ(flips_m, 0) << n;

  // float16 vs float32 on the GPU.
  const Tensor emb16 = encode_image_device(**g16, in16);
  EXPECT_EQ(emb16.dtype(), DType::kF16);
  const BoxPrediction p16 = predict_box_device(**g16, emb16, box_gpu, h, w);
  EXPECT_EQ(p16.low_res_logits.dtype(), DType::kF32);
  EXPECT_EQ(p16.iou_prediction.dtype(), DType::kF32);
  int64_t a32 = 0, a16 = 0;
  const double miou = mask_iou(first.mask_u8, p16.mask_u8, &a32, &a16);
  std::printf("[mobilesam-cuda] %s f16 vs f32: embedding max |diff| %.3g, low-res logits %.3g, "
              "iou %.3g, mask IoU %.5f (areas %lld / %lld)\n",
              n, max_abs_diff_gpu(emb16, to_cpu_f32(emb32)),
              max_abs_diff_gpu(p16.low_res_logits, to_cpu_f32(first.low_res_logits)),
              max_abs_diff_gpu(p16.iou_prediction, to_cpu_f32(first.iou_prediction)), miou,
              static_cast<long long>(a32), static_cast<long long>(a16));
  EXPECT_GT(a32, 0) << n << ": the float32 mask is empty, the comparison would mean nothing";
  EXPECT_GE(miou, 0.99) << n;
}

ModelCase phantom_case() {
  pipeline::PhantomGenerator gen(11, pipeline::FrameSize{558, 422});
  pipeline::PhantomFrame f = gen.next();
  for (int i = 0; i < 10 && !f.has_box; ++i) f = gen.next();
  ModelCase c;
  c.name = "phantom";
  c.checkpoint = (test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
  c.frame = io::Image{422, 558, 1, f.pixels};
  for (int i = 0; i < 4; ++i) c.box[i] = static_cast<float>(f.box[i]);
  return c;
}

TEST(MobileSamCuda, PhantomModelMatchesCpu) {
  UM_REQUIRE_CUDA();
  check_model(phantom_case());
}

TEST(MobileSamCuda, FixtureModelMatchesCpu) {
  UM_REQUIRE_CUDA();
  const auto dir = test::fixtures_dir() / "mobilesam";
  UM_REQUIRE_FIXTURE(dir / "tensors.safetensors");
  auto ref = io::read_safetensors((dir / "tensors.safetensors").string());
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  auto frame = io::read_image((dir / "frame.png").string());
  ASSERT_TRUE(frame.ok()) << frame.status().to_string();
  ModelCase c;
  c.name = "fixture";
  c.checkpoint = (dir / "checkpoint.pt").string();
  c.frame = io::to_gray(*frame);
  const Tensor box = ref->at("box").to(DType::kF32).contiguous();
  for (int i = 0; i < 4; ++i) c.box[i] = box.data<float>()[i];
  check_model(c);
}

// The convenience Predictor on a float32 GPU model (host upload/read-back) against the official
// PyTorch references: embedding, single mask, multimask and points + box prompts.
TEST(MobileSamCuda, GpuPredictorMatchesOfficialReference) {
  UM_REQUIRE_CUDA();
  const auto dir = test::fixtures_dir() / "mobilesam";
  UM_REQUIRE_FIXTURE(dir / "tensors.safetensors");
  auto ref = io::read_safetensors((dir / "tensors.safetensors").string());
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  auto frame = io::read_image((dir / "frame.png").string());
  ASSERT_TRUE(frame.ok()) << frame.status().to_string();
  auto model = MobileSam::load((dir / "checkpoint.pt").string(), Device::cuda(), DType::kF32);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  Predictor pred(*model);
  ASSERT_TRUE(pred.set_image(*frame).ok());
  const Tensor& emb_ref = ref->at("image_embeddings");
  const float emb_diff = max_abs_diff_gpu(pred.image_embedding(), emb_ref);
  std::printf("[mobilesam-cuda] GPU predictor vs official: embedding %.3g (scale %.3g)\n", emb_diff,
              max_abs(emb_ref));
  EXPECT_LE(emb_diff, 1e-4f * std::max(max_abs(emb_ref), 1.f));
  const float* b = ref->at("box").data<float>();
  Prompt p;
  p.box = Box{b[0], b[1], b[2], b[3]};
  auto close = [&](const Tensor& ours, const char* key) {
    ASSERT_TRUE(ours.device().is_cpu()) << key;
    const float d = max_abs_diff_gpu(ours.to(Device::cuda()), ref->at(key));
    std::printf("[mobilesam-cuda] GPU predictor vs official: %-26s %.3g\n", key, d);
    EXPECT_LE(d, 1e-3f) << key;
  };
  auto single = pred.predict(p);
  ASSERT_TRUE(single.ok()) << single.status().to_string();
  close(single->low_res_logits, "single.low_res_logits");
  close(single->iou_predictions, "single.iou_predictions");
  close(single->mask_logits, "single.mask_logits");
  p.multimask = true;
  auto multi = pred.predict(p);
  ASSERT_TRUE(multi.ok()) << multi.status().to_string();
  close(multi->low_res_logits, "multi.low_res_logits");
  close(multi->iou_predictions, "multi.iou_predictions");
  p.multimask = false;
  const float* pts = ref->at("points").data<float>();
  const int64_t* labels = ref->at("point_labels").data<int64_t>();
  for (int i = 0; i < 2; ++i) p.points.push_back({pts[2 * i], pts[2 * i + 1], int(labels[i])});
  auto points = pred.predict(p);
  ASSERT_TRUE(points.ok()) << points.status().to_string();
  close(points->mask_logits, "points_box.mask_logits");
  close(points->iou_predictions, "points_box.iou_predictions");
}

// The whole device path, warm: no host sync, no driver allocation; then captured as a CUDA
// graph and replayed, with the eager result.
TEST(MobileSamCuda, FramePathIsGraphCapturable) {
  UM_REQUIRE_CUDA();
  const ModelCase c = phantom_case();
  auto model = MobileSam::load(c.checkpoint, Device::cuda(), DType::kF16);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const int64_t h = c.frame.height, w = c.frame.width;
  const Tensor frame_gpu = frame_tensor(c.frame).to(Device::cuda());
  const Tensor box_gpu = Tensor::from_vector({c.box[0], c.box[1], c.box[2], c.box[3]}, {4})
                             .to(Device::cuda());
  cuda::Stream stream;
  cuda::StreamScope stream_scope(stream.get());
  cuda::DevicePool pool;
  cuda::PoolScope pool_scope(&pool);
  auto run = [&] {
    const Tensor emb = encode_image_device(**model, preprocess_device(**model, frame_gpu));
    return predict_box_device(**model, emb, box_gpu, h, w, {}, true);
  };
  const BoxPrediction eager = run();  // warm-up: per-shape caches (taps, plans) fill here
  { const BoxPrediction warm = run(); }  // its blocks return to the pool for the next frame
  cuda::synchronize(stream.get());
  const uint64_t syncs = cuda::host_sync_count(), allocs = pool.driver_allocations();
  { const BoxPrediction again = run(); }
  EXPECT_EQ(cuda::host_sync_count(), syncs) << "the warm frame path synchronised the host";
  EXPECT_EQ(pool.driver_allocations(), allocs) << "the warm frame path called cudaMalloc";

  cudaGraph_t graph = nullptr;
  UM_CUDA_CHECK(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal));
  BoxPrediction captured;
  try {
    captured = run();
  } catch (const std::exception& e) {
    cudaStreamEndCapture(stream.get(), &graph);
    if (graph) cudaGraphDestroy(graph);
    FAIL() << "frame path failed under capture: " << e.what();
  }
  UM_CUDA_CHECK(cudaStreamEndCapture(stream.get(), &graph));
  cudaGraphExec_t exec = nullptr;
  UM_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  UM_CUDA_CHECK(cudaGraphLaunch(exec, stream.get()));
  cuda::synchronize(stream.get());
  const float d = max_abs_diff_gpu(captured.mask_logits, to_cpu_f32(eager.mask_logits));
  std::printf("[mobilesam-cuda] graph replay vs eager: frame logits max |diff| %.3g\n", d);
  EXPECT_LE(d, 1e-3f);
  int64_t a = 0, b = 0;
  EXPECT_GE(mask_iou(captured.mask_u8, eager.mask_u8, &a, &b), 0.999);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

// The box-independent half run first, on its own (as the frame graph runs it beside D-FINE, in
// another pool), then the box half: the same bits as the one-call form, with and without a mask
// input; on the GPU the half includes the transformer's first folded projection.
TEST(MobileSamCuda, PreparedImageThenBoxEqualsOneCall) {
  UM_REQUIRE_CUDA();
  const ModelCase c = phantom_case();
  for (DType dt : {DType::kF16, DType::kF32}) {
    auto model = MobileSam::load(c.checkpoint, Device::cuda(), dt);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const int64_t h = c.frame.height, w = c.frame.width;
    const Tensor box_gpu = Tensor::from_vector({c.box[0], c.box[1], c.box[2], c.box[3]}, {4})
                               .to(Device::cuda());
    const Tensor frame_gpu = frame_tensor(c.frame).to(Device::cuda());
    const Tensor emb = encode_image_device(**model, preprocess_device(**model, frame_gpu));
    const BoxPrediction one = predict_box_device(**model, emb, box_gpu, h, w);
    PreparedImage image;
    {
      cuda::DevicePool other;
      cuda::PoolScope in_other(&other);
      image = prepare_image_device(**model, emb);
      EXPECT_TRUE(image.first_projection.defined());
      const BoxPrediction two = predict_box_device(**model, image, box_gpu, h, w);
      EXPECT_EQ(max_abs_diff_gpu(two.low_res_logits, to_cpu_f32(one.low_res_logits)), 0.f)
          << dtype_name(dt);
      EXPECT_EQ(max_abs_diff_gpu(two.iou_prediction, to_cpu_f32(one.iou_prediction)), 0.f)
          << dtype_name(dt);
      const PreparedImage masked = prepare_image_device(**model, emb, one.low_res_logits);
      const BoxPrediction two_m = predict_box_device(**model, masked, box_gpu, h, w);
      const BoxPrediction one_m =
          predict_box_device(**model, emb, box_gpu, h, w, one.low_res_logits);
      EXPECT_EQ(max_abs_diff_gpu(two_m.low_res_logits, to_cpu_f32(one_m.low_res_logits)), 0.f)
          << dtype_name(dt) << " with mask input";
      image = PreparedImage();  // its blocks go back to `other` before it is destroyed
    }
  }
}

TEST(MobileSamCuda, PlacementErrors) {
  UM_REQUIRE_CUDA();
  const auto path = (test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
  auto bf16 = MobileSam::load(path, Device::cuda(), DType::kBF16);
  ASSERT_FALSE(bf16.ok());
  EXPECT_EQ(bf16.status().code(), StatusCode::kInvalidArgument);
  auto g = MobileSam::load(path, Device::cuda(), DType::kF16);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ((*g)->dtype(), DType::kF16);
  // CPU tensors into the device path are refused with a clear error.
  EXPECT_THROW(preprocess_device(**g, Tensor::zeros({64, 64}, DType::kU8)), Error);
  const Tensor emb = Tensor::zeros({1, 256, 64, 64}, DType::kF16, Device::cuda());
  EXPECT_THROW(predict_box_device(**g, emb, Tensor::from_vector({0, 0, 9, 9}, {4}), 64, 64),
               Error);
  EXPECT_THROW(predict_box_device(**g, emb.to(DType::kF32),
                                  Tensor::from_vector({0, 0, 9, 9}, {4}).to(Device::cuda()), 64,
                                  64),
               Error);
}

}  // namespace
}  // namespace um::mobilesam
