// GPU tests of D-FINE: its CUDA ops (nn/ops_dfine.h) against their CPU references on random data,
// the device preprocessing against the CPU preprocess, and the whole model on the GPU (float32:
// tight, float16: the same-top-detections criterion) against the CPU model on the
// fixtures and the phantom checkpoint; per-stage float16 policies are diagnosed (printed); the
// GPU frame path (preprocess_device -> forward -> top1_device) must not
// synchronise the host once warm. Measured errors are printed for the lead's report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_pool.h"
#include "core/cuda/stream_context.h"
#include "cuda_test_support.h"
#include "io/image.h"
#include "models/dfine/dfine.h"
#include "nn/ops_dfine.h"
#include "pipeline/phantom.h"
#include "test_support.h"

namespace um::dfine {
namespace {

using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;

// ---- ops --------------------------------------------------------------------------------------

TEST(DFineOpsCuda, ActAffineClampAmaxMatchCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({4, 3, 17, 9}, 11, -5.f, 5.f);
  for (auto act :
       {nn::ActKind::kNone, nn::ActKind::kReLU, nn::ActKind::kSiLU, nn::ActKind::kGELU}) {
    Tensor want = x.clone();
    nn::act_affine_inplace(want, act, true, 0.75f, 0.1f);
    for (DType dt : {DType::kF32, DType::kF16}) {
      Tensor g = to_gpu(x, dt);
      nn::act_affine_inplace(g, act, true, 0.75f, 0.1f);
      const float d = max_abs_diff_gpu(g, want);
      EXPECT_LE(d, dt == DType::kF32 ? 1e-5f : 1e-2f)
          << static_cast<int>(act) << " " << dtype_name(dt);
    }
  }
  EXPECT_EQ(max_abs_diff_gpu(nn::clamp(to_gpu(x), -1.f, 2.f), nn::clamp(x, -1.f, 2.f)), 0.f);
  // A strided view: amax over the last dim of a transposed tensor.
  const Tensor xt = x.transpose(1, 3);
  EXPECT_EQ(
      max_abs_diff_gpu(nn::amax_last(to_gpu(x).transpose(1, 3)), nn::amax_last(xt.contiguous())),
      0.f);
  const Tensor half_max = nn::amax_last(to_gpu(x, DType::kF16));
  EXPECT_EQ(half_max.dtype(), DType::kF32);
  EXPECT_EQ(max_abs_diff_gpu(half_max, nn::amax_last(x.to(DType::kF16).to(DType::kF32))), 0.f);
}

TEST(DFineOpsCuda, Pad2dAndU8MatchCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 3, 5, 7}, 12);
  EXPECT_EQ(max_abs_diff_gpu(nn::pad2d(to_gpu(x), 0, 1, 0, 1, 0.f), nn::pad2d(x, 0, 1, 0, 1, 0.f)),
            0.f);
  EXPECT_EQ(max_abs_diff_gpu(nn::pad2d(to_gpu(x).transpose(2, 3), 3, 2, 1, 4, 0.5f),
                             nn::pad2d(x.transpose(2, 3), 3, 2, 1, 4, 0.5f)),
            0.f);
  // The row kernel: rows past the 65535 of one grid dimension (grid-stride), rows wider than a
  // block (600 > 256 threads), the stem's shape (right/bottom pad of 320x320, 16 channels).
  const Tensor many = random_cpu({1, 70000, 1, 3}, 13);
  EXPECT_EQ(max_abs_diff_gpu(nn::pad2d(to_gpu(many), 1, 0, 1, 1, -1.f),
                             nn::pad2d(many, 1, 0, 1, 1, -1.f)),
            0.f);
  const Tensor wide = random_cpu({1, 2, 3, 600}, 14);
  EXPECT_EQ(max_abs_diff_gpu(nn::pad2d(to_gpu(wide, DType::kF16), 2, 1, 0, 0, 0.f),
                             nn::pad2d(wide.to(DType::kF16).to(DType::kF32), 2, 1, 0, 0, 0.f)),
            0.f);
  const Tensor stem = random_cpu({1, 16, 320, 320}, 15);
  EXPECT_EQ(max_abs_diff_gpu(nn::pad2d(to_gpu(stem), 0, 1, 0, 1, 0.f),
                             nn::pad2d(stem, 0, 1, 0, 1, 0.f)),
            0.f);
  Tensor u8 = Tensor::empty({33, 65}, DType::kU8);
  for (int64_t i = 0; i < u8.numel(); ++i)
    u8.data<uint8_t>()[i] = static_cast<uint8_t>((i * 29) % 256);
  EXPECT_EQ(
      max_abs_diff_gpu(nn::u8_to_float(u8.to(Device::cuda()), 255.f), nn::u8_to_float(u8, 255.f)),
      0.f);
}

nn::MsDeformParams deform_params() {
  nn::MsDeformParams p;
  p.level_shapes = {{20, 16}, {10, 8}, {5, 4}};
  p.points = {3, 6, 3};
  for (int l = 0; l < 3; ++l)
    for (int k = 0; k < p.points[l]; ++k)
      p.point_scale.push_back(1.f / static_cast<float>(p.points[l]));
  p.heads = 8;
  return p;
}

// The two kernels of ms_deformable_cuda.cu on their shapes: D-FINE's (head dim 32, 3 x 4
// points: one warp per query and head) and beyond the warp kernel's limits (36 points; head dim
// 64: one thread per element), float32 against the CPU within 1e-5, float16 memory/weights 2e-2.
TEST(DFineOpsCuda, DeformableSampleKernelsMatchCpuOnTheirShapes) {
  UM_REQUIRE_CUDA();
  struct Shape3 {
    const char* what;
    int64_t e;
    int heads;
    std::vector<int> points;
  };
  const Shape3 shapes[] = {{"D-FINE: head dim 32, 12 points", 256, 8, {4, 4, 4}},
                           {"36 points", 64, 8, {12, 12, 12}},
                           {"head dim 64", 128, 2, {4, 4, 4}}};
  uint32_t seed = 30;
  for (const Shape3& sh : shapes) {
    SCOPED_TRACE(sh.what);
    nn::MsDeformParams p;
    p.level_shapes = {{24, 20}, {12, 10}, {6, 5}};
    p.points = sh.points;
    for (int l = 0; l < 3; ++l)
      for (int k = 0; k < p.points[l]; ++k)
        p.point_scale.push_back(1.f / static_cast<float>(p.points[l]));
    p.heads = sh.heads;
    const int64_t b = 1, q = 37, len = 480 + 120 + 30;
    const int64_t total = static_cast<int64_t>(p.point_scale.size());
    const Tensor memory = random_cpu({b, len, sh.e}, seed);
    const Tensor ref = random_cpu({b, q, 4}, seed + 1, -0.1f, 1.1f);  // partly outside
    const Tensor off = random_cpu({b, q, p.heads * total * 2}, seed + 2, -4.f, 4.f);
    const Tensor attn = random_cpu({b, q, p.heads * total}, seed + 3, -3.f, 3.f);
    const Tensor want = nn::ms_deformable_sample(memory, ref, off, attn, p);
    EXPECT_LE(max_abs_diff_gpu(nn::ms_deformable_sample(to_gpu(memory), to_gpu(ref), to_gpu(off),
                                                        to_gpu(attn), p),
                               want),
              1e-5f);
    EXPECT_LE(max_abs_diff_gpu(nn::ms_deformable_sample(to_gpu(memory, DType::kF16), to_gpu(ref),
                                                        to_gpu(off), to_gpu(attn, DType::kF16),
                                                        p),
                               want),
              2e-2f);
    seed += 10;
  }
}

TEST(DFineOpsCuda, DeformableSampleMatchesCpu) {
  UM_REQUIRE_CUDA();
  const nn::MsDeformParams p = deform_params();
  const int64_t b = 2, q = 50, e = 64, len = 320 + 80 + 20, total = 12;
  const Tensor memory = random_cpu({b, len, e}, 13);
  const Tensor ref = random_cpu({b, q, 4}, 14, -0.1f, 1.1f);  // partly outside: zero padding
  const Tensor off = random_cpu({b, q, p.heads * total * 2}, 15, -4.f, 4.f);
  const Tensor attn = random_cpu({b, q, p.heads * total}, 16, -3.f, 3.f);
  const Tensor want = nn::ms_deformable_sample(memory, ref, off, attn, p);
  const float d32 = max_abs_diff_gpu(
      nn::ms_deformable_sample(to_gpu(memory), to_gpu(ref), to_gpu(off), to_gpu(attn), p), want);
  EXPECT_LE(d32, 1e-5f);
  // Strided memory (a transposed view) and float16 memory/weights with float32 coordinates.
  const Tensor mem_t = to_gpu(memory.transpose(1, 2).contiguous()).transpose(1, 2);
  EXPECT_LE(max_abs_diff_gpu(
                nn::ms_deformable_sample(mem_t, to_gpu(ref), to_gpu(off), to_gpu(attn), p), want),
            1e-5f);
  const float d16 =
      max_abs_diff_gpu(nn::ms_deformable_sample(to_gpu(memory, DType::kF16), to_gpu(ref),
                                                to_gpu(off), to_gpu(attn, DType::kF16), p),
                       want);
  EXPECT_LE(d16, 2e-2f);
  std::printf("ms_deformable_sample GPU vs CPU: float32 %.3g, float16 %.3g\n", d32, d16);
  // float16 coordinates are refused (the box chain stays float32).
  EXPECT_THROW(nn::ms_deformable_sample(to_gpu(memory), to_gpu(ref, DType::kF16), to_gpu(off),
                                        to_gpu(attn), p),
               Error);
}

TEST(DFineOpsCuda, FdrOpsMatchCpu) {
  UM_REQUIRE_CUDA();
  const std::vector<float> w = weighting_function(32, 0.5f, 4.f);
  const Tensor corners = random_cpu({1, 300, 4 * 33}, 17, -4.f, 4.f);
  const Tensor points = random_cpu({1, 300, 4}, 18, 0.05f, 0.9f);
  const Tensor dist = random_cpu({1, 300, 4}, 19, -2.f, 2.f);
  EXPECT_LE(max_abs_diff_gpu(nn::distribution_integral(to_gpu(corners), w),
                             nn::distribution_integral(corners, w)),
            1e-5f);
  EXPECT_LE(max_abs_diff_gpu(nn::distance2bbox(to_gpu(points), to_gpu(dist), 4.f),
                             nn::distance2bbox(points, dist, 4.f)),
            1e-6f);
  EXPECT_LE(max_abs_diff_gpu(nn::distribution_topk_stats(to_gpu(corners), 33, 4),
                             nn::distribution_topk_stats(corners, 33, 4)),
            1e-6f);
  EXPECT_THROW(nn::distribution_integral(to_gpu(corners, DType::kF16), w), Error);
  // One warp per edge row holds up to 4 bins per lane: bin counts below, at and past one and
  // three lanes' worth, up to the maximum (128), two images, and k up to the bin count.
  for (const int bins : {5, 32, 33, 97, 128}) {
    SCOPED_TRACE(bins);
    std::vector<float> wb(static_cast<size_t>(bins));
    for (int i = 0; i < bins; ++i) wb[static_cast<size_t>(i)] = 0.25f * static_cast<float>(i - 3);
    const Tensor cb = random_cpu({2, 37, 4 * bins}, 20 + bins, -6.f, 6.f);
    EXPECT_LE(max_abs_diff_gpu(nn::distribution_integral(to_gpu(cb), wb),
                               nn::distribution_integral(cb, wb)),
              1e-5f * static_cast<float>(bins));
    for (const int k : {1, 4, bins}) {
      EXPECT_LE(max_abs_diff_gpu(nn::distribution_topk_stats(to_gpu(cb), bins, k),
                                 nn::distribution_topk_stats(cb, bins, k)),
                1e-6f)
          << "k " << k;
    }
  }
}

TEST(DFineOpsCuda, DetectionTop1MatchesCpu) {
  UM_REQUIRE_CUDA();
  for (bool letterbox : {false, true}) {
    Tensor logits = random_cpu({1, 300, 2}, 20, -6.f, 3.f);
    logits.data<float>()[299 * 2] = 5.f;  // a tie at the top: the lower flat index wins
    logits.data<float>()[7 * 2 + 1] = 5.f;
    const Tensor boxes = random_cpu({1, 300, 4}, 21, 0.f, 1.f);
    nn::BoxMapping m;
    m.norm_w = letterbox ? 640.f : 422.f;
    m.norm_h = letterbox ? 640.f : 558.f;
    m.letterbox = letterbox;
    m.pad_x = letterbox ? 78.f : 0.f;
    m.scale = letterbox ? 640.f / 558.f : 1.f;
    m.frame_w = 422.f;
    m.frame_h = 558.f;
    const Tensor want = nn::detection_top1(logits, boxes, m);
    const Tensor got = to_cpu_f32(nn::detection_top1(to_gpu(logits), to_gpu(boxes), m));
    EXPECT_EQ(got.data<float>()[1], want.data<float>()[1]);
    EXPECT_EQ(want.data<float>()[1], 1.f);  // query 7, class 1
    EXPECT_NEAR(got.data<float>()[0], want.data<float>()[0], 1e-6f);
    for (int k = 2; k < 6; ++k)
      EXPECT_NEAR(got.data<float>()[k], want.data<float>()[k], 1e-4f) << k;
  }
}

// ---- preprocessing ------------------------------------------------------------------------------

Tensor gray_u8(const io::Image& gray) {
  Tensor t = Tensor::empty({gray.height, gray.width}, DType::kU8);
  std::copy(gray.pixels.begin(), gray.pixels.end(), t.data<uint8_t>());
  return t;
}

io::Image pattern_frame(int w, int h) {
  io::Image img;
  img.width = w;
  img.height = h;
  img.channels = 1;
  img.pixels.resize(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      img.pixels[static_cast<size_t>(y) * w + x] =
          static_cast<uint8_t>((x * 7 + y * 3 + ((x / 16 + y / 16) % 2) * 90) % 256);
  return img;
}

TEST(DFinePreprocessCuda, MatchesCpuPreprocess) {
  UM_REQUIRE_CUDA();
  for (const auto& [w, h] : {std::pair{422, 558}, std::pair{1280, 200}, std::pair{130, 131}}) {
    const io::Image frame = pattern_frame(w, h);
    const Tensor u8 = gray_u8(frame).to(Device::cuda());
    for (ResizeMode mode : {ResizeMode::kStretch, ResizeMode::kLetterbox}) {
      for (int channels : {3, 1}) {
        Options opt;
        opt.resize = mode;
        opt.letterbox_fill = 0.5f;
        const Preprocessed want = preprocess(frame, channels, opt);
        const Tensor got = preprocess_gray_tensor(u8, channels, opt, DType::kF32);
        const float d = max_abs_diff_gpu(got, want.input);
        EXPECT_LE(d, 1e-6f) << w << "x" << h << " mode " << static_cast<int>(mode) << " c "
                            << channels;
        const Tensor got16 = preprocess_gray_tensor(u8, channels, opt, DType::kF16);
        EXPECT_EQ(got16.dtype(), DType::kF16);
        EXPECT_LE(max_abs_diff_gpu(got16, want.input), 1e-3f);
      }
    }
  }
}

// ---- the model
// ------------------------------------------------------------------------------------

struct Case {
  std::string name;
  std::filesystem::path checkpoint, frame;  // frame may be empty: a synthetic pattern then
};

std::vector<Case> model_cases() {
  const auto fx = test::fixtures_dir();
  return {{"dfine_s", fx / "dfine_s" / "checkpoint.pth", fx / "dfine_s" / "frame.png"},
          {"dfine_n", fx / "dfine_n" / "checkpoint.pth", fx / "dfine_n" / "frame.png"},
          {"phantom_n", test::source_dir() / "models" / "phantom" / "dfine_n_phantom.pth", {}}};
}

// The case's frame: the fixture frame (gray), or a rendered phantom frame with bone (the phantom
// model detects it confidently). False (with a failure recorded) when the fixture is unreadable.
bool load_case_frame(const Case& c, io::Image& frame) {
  if (c.frame.empty()) {
    pipeline::PhantomGenerator gen(11, pipeline::FrameSize{558, 422});
    const pipeline::PhantomFrame f = gen.next();
    frame.width = 422;
    frame.height = 558;
    frame.channels = 1;
    frame.pixels = f.pixels;
    EXPECT_EQ(frame.pixels.size(), size_t{422} * 558);
    return frame.pixels.size() == size_t{422} * 558;
  }
  auto f = io::read_image(c.frame.string());
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  if (!f.ok()) return false;
  frame = f->channels == 1 ? *f : io::to_gray(*f);
  return true;
}

// One input pixel (the network's input is 640 across) in frame pixels.
float input_pixel_in_frame(const Geometry& g) {
  return std::max(static_cast<float>(g.frame_width) / static_cast<float>(g.input_width),
                  static_cast<float>(g.frame_height) / static_cast<float>(g.input_height));
}

// The issue's float16 criterion, "the same top detections (boxes within 1 pixel at 640, scores
// within 1e-2)", read as: every CPU detection the pipeline could act on (score >= tau_conf, 0.5 by
// default), and the CPU top-1 always, has a GPU
// detection of the same label whose box (each corner coordinate) is within `px` frame pixels and
// whose score is within 1e-2. Order is not compared: near-tied detections may swap legitimately.
// Returns "" when met, else the first CPU detection without a match.
std::string top_detections_mismatch(const Detections& cpu, const Detections& gpu, float px) {
  // Not lower: on the dfine_n fixture (100+ detections) the 300th selected query (score 0.21)
  // sits on the encoder's top-300 selection boundary and drops out in float16, as any rounding
  // may make it; measured on an H200 with the float32 backbone, the 99 detections above it matched.
  constexpr float kMinScore = 0.5f, kScoreTol = 1e-2f;
  for (size_t i = 0; i < cpu.items.size(); ++i) {
    const Detection& a = cpu.items[i];
    if (i > 0 && a.score < kMinScore) continue;
    bool matched = false;
    for (const Detection& b : gpu.items) {
      if (b.label != a.label || std::fabs(b.score - a.score) > kScoreTol) continue;
      float d = 0.f;
      for (int k = 0; k < 4; ++k) d = std::max(d, std::fabs(b.box[k] - a.box[k]));
      if (d <= px) {
        matched = true;
        break;
      }
    }
    if (!matched) {
      char buf[256];
      std::snprintf(buf, sizeof(buf),
                    "cpu #%zu (q%lld label %lld score %.4f box [%.1f %.1f %.1f %.1f]) has no gpu "
                    "detection of that label within %.3g px and 1e-2 score",
                    i, static_cast<long long>(a.query), static_cast<long long>(a.label), a.score,
                    a.box[0], a.box[1], a.box[2], a.box[3], px);
      return buf;
    }
  }
  return "";
}

// The float16 policies compared by the diagnostics (Options::half_*).
struct HalfPolicy {
  const char* name;
  bool backbone, encoder, decoder;
  int tf32 = 0;  // Options::tf32_backbone_parts (read only when the backbone is float32)
};
constexpr HalfPolicy kHalfPolicies[] = {
    {"all-half", true, true, true},
    {"backbone-half", true, false, false},
    {"backbone+encoder-half", true, true, false},
    {"encoder+decoder-half, backbone fp32 (default)", false, true, true, 0},
    {"encoder+decoder-half, backbone fp32, TF32 stem", false, true, true, 1},
    {"encoder+decoder-half, backbone fp32, TF32 stem+stage1", false, true, true, 2},
    {"encoder+decoder-half, backbone fp32, TF32 stem+stages1-2", false, true, true, 3},
    {"encoder+decoder-half, backbone fp32, TF32 everywhere", false, true, true, 5}};

class DFineModelCuda : public ::testing::TestWithParam<int> {};

// For each CPU query, the GPU query with the nearest box (the 300 queries are a top-k over encoder
// tokens whose order among near-ties is not significant); worst box and logit differences.
std::pair<float, float> matched_errors(const ForwardOutput& cpu, const Tensor& gpu_logits,
                                       const Tensor& gpu_boxes) {
  const Tensor gl = to_cpu_f32(gpu_logits), gb = to_cpu_f32(gpu_boxes);
  const Tensor& cl = cpu.pred_logits;
  const Tensor& cb = cpu.pred_boxes;
  EXPECT_EQ(gl.shape(), cl.shape());
  EXPECT_EQ(gb.shape(), cb.shape());
  if (gl.shape() != cl.shape() || gb.shape() != cb.shape()) return {INFINITY, INFINITY};
  const int64_t nq = cb.size(1), nc = cl.size(2);
  float worst_box = 0.f, worst_logit = 0.f;
  for (int64_t i = 0; i < nq; ++i) {
    int64_t best = 0;
    float best_d = INFINITY;
    for (int64_t j = 0; j < nq; ++j) {
      float d = 0.f;
      for (int k = 0; k < 4; ++k) {
        const float r = cb.data<float>()[i * 4 + k];
        d = std::max(d, std::fabs(gb.data<float>()[j * 4 + k] - r) / std::max(1.f, std::fabs(r)));
      }
      if (!(d >= best_d)) {
        best_d = d;
        best = j;
      }
    }
    worst_box = std::max(worst_box, best_d);
    for (int64_t c = 0; c < nc; ++c)
      worst_logit = std::max(
          worst_logit, std::fabs(gl.data<float>()[best * nc + c] - cl.data<float>()[i * nc + c]));
  }
  return {worst_box, worst_logit};
}

TEST_P(DFineModelCuda, MatchesCpuModel) {
  UM_REQUIRE_CUDA();
  const Case c = model_cases()[static_cast<size_t>(GetParam())];
  UM_REQUIRE_FIXTURE(c.checkpoint);
  if (!c.frame.empty()) UM_REQUIRE_FIXTURE(c.frame);
  io::Image frame;
  ASSERT_TRUE(load_case_frame(c, frame));
  auto cpu = DFine::load(c.checkpoint.string());
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  const Preprocessed p = (*cpu)->preprocess(frame);
  const ForwardOutput ref = (*cpu)->forward(p.input);
  const Detections ref_det = postprocess(ref.pred_logits, ref.pred_boxes, p.geometry);
  const TopBox want = top1(ref_det, p.geometry);
  ASSERT_TRUE(want.found);
  const Tensor frame_gpu = gray_u8(frame).to(Device::cuda());

  for (DType dt : {DType::kF32, DType::kF16}) {
    Options opt;
    opt.device = Device::cuda();
    opt.dtype = dt;
    auto gpu = DFine::load(c.checkpoint.string(), opt);
    ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
    const DFine& m = **gpu;
    const Geometry g = m.geometry(frame.width, frame.height);
    // The frame path: device preprocessing -> forward -> device top-1 (warm-up call first, then
    // a call that must not synchronise the host nor take memory from the driver).
    const Tensor x = m.preprocess_device(frame_gpu);
    EXPECT_LE(max_abs_diff_gpu(x, p.input), dt == DType::kF32 ? 1e-6f : 1e-3f);
    ForwardOutput out = m.forward(x);
    Tensor best = m.top1_device(out, g);
    {
      cuda::DevicePool pool;
      cuda::PoolScope scope(&pool);
      {
        ForwardOutput warm = m.forward(m.preprocess_device(frame_gpu));
        (void)m.top1_device(warm, g);
      }
      const uint64_t syncs = cuda::host_sync_count(), mallocs = pool.driver_allocations();
      ForwardOutput again = m.forward(m.preprocess_device(frame_gpu));
      const Tensor again_best = m.top1_device(again, g);
      EXPECT_EQ(cuda::host_sync_count(), syncs) << "the D-FINE frame path synchronised the host";
      EXPECT_EQ(pool.driver_allocations(), mallocs) << "a warm frame allocated from the driver";
      EXPECT_EQ(max_abs_diff_gpu(again_best, to_cpu_f32(best)), 0.f) << "not deterministic";
    }
    EXPECT_EQ(out.pred_logits.dtype(), DType::kF32);
    EXPECT_EQ(out.pred_boxes.dtype(), DType::kF32);
    const Tensor b = to_cpu_f32(best);
    const float* t = b.data<float>();
    float box_err = 0.f;
    for (int k = 0; k < 4; ++k) box_err = std::max(box_err, std::fabs(t[2 + k] - want.box[k]));
    const float score_err = std::fabs(t[0] - want.score);
    // The GPU model on the CPU's input too, to separate preprocessing from the network.
    const ForwardOutput same_input = m.forward(p.input.to(Device::cuda()));
    const auto [dbox, dlogit] = matched_errors(ref, same_input.pred_logits, same_input.pred_boxes);
    std::printf(
        "%s %s GPU vs CPU: pred_boxes %.3g (rel), pred_logits %.3g, top1 box %.3g px, score %.3g "
        "(label %g vs %lld)\n",
        c.name.c_str(), dtype_name(dt), dbox, dlogit, box_err, score_err, t[1],
        static_cast<long long>(want.label));
    if (dt == DType::kF32) {
      EXPECT_EQ(static_cast<int64_t>(t[1]), want.label);
      EXPECT_LE(dlogit, 1e-3f);
      EXPECT_LE(dbox, 1e-4f);
      EXPECT_LE(box_err, 1e-3f);
      EXPECT_LE(score_err, 1e-4f);
    } else {
      // The criterion on the detections of the frame path (GPU preprocessing included);
      // the top-1 may legitimately be another of two near-tied detections, so it is not compared
      // by rank.
      const Detections got =
          postprocess(to_cpu_f32(out.pred_logits), to_cpu_f32(out.pred_boxes), g);
      const std::string miss = top_detections_mismatch(ref_det, got, input_pixel_in_frame(g));
      EXPECT_EQ(miss, "") << c.name << " float16: not the same top detections";
    }
  }
}

// Where float16 departs from float32, per precision policy (all half, backbone only, backbone and
// encoder): each intermediate's error, the top-5 of both, and the verdict, on the two
// fixtures and the phantom model; printed for the lead, who picks the default policy from them.
// Asserts only that the runs complete (MatchesCpuModel asserts the criterion for the default).
TEST(DFineModelCudaMisc, Float16Diagnostics) {
  UM_REQUIRE_CUDA();
  for (const Case& c : model_cases()) {
    if (!std::filesystem::exists(c.checkpoint)) continue;
    if (!c.frame.empty() && !std::filesystem::exists(c.frame)) continue;
    io::Image frame;
    ASSERT_TRUE(load_case_frame(c, frame));
    auto cpu = DFine::load(c.checkpoint.string());
    ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
    const Preprocessed p = (*cpu)->preprocess(frame);
    const ForwardOutput ref = (*cpu)->forward(p.input, true);
    const Detections dc = postprocess(ref.pred_logits, ref.pred_boxes, p.geometry);
    const float px = input_pixel_in_frame(p.geometry);
    for (const HalfPolicy& pol : kHalfPolicies) {
      Options opt;
      opt.device = Device::cuda();
      opt.dtype = DType::kF16;
      opt.half_backbone = pol.backbone;
      opt.half_encoder = pol.encoder;
      opt.half_decoder = pol.decoder;
      opt.tf32_backbone_parts = pol.tf32;
      auto gpu = DFine::load(c.checkpoint.string(), opt);
      ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
      const ForwardOutput out = (*gpu)->forward(p.input.to(Device::cuda()), true);
      const char* n = c.name.c_str();
      for (const auto& [name, t] : ref.intermediates) {
        auto it = out.intermediates.find(name);
        if (it == out.intermediates.end()) continue;
        float scale = 0.f;
        const Tensor r = t.contiguous();
        for (int64_t i = 0; i < r.numel(); ++i)
          scale = std::max(scale, std::fabs(r.data<float>()[i]));
        std::printf("%s [%s] %s (%s): max|ref| %.4g, max|gpu - ref| %.4g\n", n, pol.name,
                    name.c_str(), dtype_name(it->second.dtype()), scale,
                    max_abs_diff_gpu(it->second, t));
      }
      const Detections dg =
          postprocess(to_cpu_f32(out.pred_logits), to_cpu_f32(out.pred_boxes), p.geometry);
      for (size_t i = 0; i < 5 && (i < dc.items.size() || i < dg.items.size()); ++i) {
        const Detection none;
        const Detection& a = i < dc.items.size() ? dc.items[i] : none;
        const Detection& b = i < dg.items.size() ? dg.items[i] : none;
        std::printf("%s [%s] top-%zu cpu fp32 q%lld l%lld %.4f [%.1f %.1f %.1f %.1f] | gpu q%lld "
                    "l%lld %.4f [%.1f %.1f %.1f %.1f]\n",
                    n, pol.name, i, static_cast<long long>(a.query),
                    static_cast<long long>(a.label), a.score, a.box[0], a.box[1], a.box[2],
                    a.box[3], static_cast<long long>(b.query), static_cast<long long>(b.label),
                    b.score, b.box[0], b.box[1], b.box[2], b.box[3]);
      }
      const std::string miss = top_detections_mismatch(dc, dg, px);
      std::printf("%s [%s] verdict (same top detections: boxes within %.3g px, scores within "
                  "1e-2): %s%s\n",
                  n, pol.name, px, miss.empty() ? "PASS" : "FAIL: ", miss.c_str());
    }
  }
}

// The per-stage policy plumbing: each stage's intermediates come in the dtype the policy gives
// it, and float16 with no stage half (and no TF32) is the float32 model (same kernels on the
// same values).
TEST(DFineModelCudaMisc, HalfPolicyStageDtypes) {
  UM_REQUIRE_CUDA();
  const std::filesystem::path ckpt = test::fixtures_dir() / "dfine_n" / "checkpoint.pth";
  UM_REQUIRE_FIXTURE(ckpt);
  Options f32;
  f32.device = Device::cuda();
  auto ref = DFine::load(ckpt.string(), f32);
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  const Tensor input =
      random_cpu({1, (*ref)->config().input_channels, 640, 640}, 31, 0.f, 1.f).to(Device::cuda());
  const ForwardOutput want = (*ref)->forward(input);
  for (const HalfPolicy& pol : kHalfPolicies) {
    for (bool none : {false, true}) {
      Options opt = f32;
      opt.dtype = DType::kF16;
      opt.half_backbone = pol.backbone && !none;
      opt.half_encoder = pol.encoder && !none;
      opt.half_decoder = pol.decoder && !none;
      // "none": the exact float32 model (no TF32, no 3xTF32 backbone convs).
      opt.tf32_backbone_parts = none ? 0 : pol.tf32;
      opt.split_tf32_backbone = !none;
      auto m = DFine::load(ckpt.string(), opt);
      ASSERT_TRUE(m.ok()) << m.status().to_string();
      EXPECT_EQ((*m)->preprocess_device(Tensor::zeros({558, 422}, DType::kU8, Device::cuda()))
                    .dtype(),
                opt.backbone_dtype());
      const ForwardOutput out = (*m)->forward(input, true);
      for (const auto& [name, t] : out.intermediates) {
        const DType expect =
            name.rfind("backbone.", 0) == 0 ? opt.backbone_dtype() : opt.encoder_dtype();
        EXPECT_EQ(t.dtype(), expect) << pol.name << " " << name;
      }
      EXPECT_EQ(out.pred_logits.dtype(), DType::kF32);
      EXPECT_EQ(out.pred_boxes.dtype(), DType::kF32);
      if (none) {
        EXPECT_LE(max_abs_diff_gpu(out.pred_logits, to_cpu_f32(want.pred_logits)), 1e-5f);
        EXPECT_LE(max_abs_diff_gpu(out.pred_boxes, to_cpu_f32(want.pred_boxes)), 1e-6f);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, DFineModelCuda, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return model_cases()[static_cast<size_t>(i.param)].name;
                         });

TEST(DFineModelCudaMisc, LetterboxTop1MatchesCpu) {
  UM_REQUIRE_CUDA();
  const std::filesystem::path ckpt = test::fixtures_dir() / "dfine_n" / "checkpoint.pth";
  UM_REQUIRE_FIXTURE(ckpt);
  const io::Image frame = pattern_frame(422, 558);
  Options opt;
  opt.resize = ResizeMode::kLetterbox;
  auto cpu = DFine::load(ckpt.string(), opt);
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  const TopBox want = (*cpu)->detect_top1(frame);
  opt.device = Device::cuda();
  auto gpu = DFine::load(ckpt.string(), opt);
  ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
  const DFine& m = **gpu;
  const Tensor best = to_cpu_f32(m.top1_device(
      m.forward(m.preprocess_device(gray_u8(frame).to(Device::cuda()))), m.geometry(422, 558)));
  EXPECT_NEAR(best.data<float>()[0], want.score, 1e-4f);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(best.data<float>()[2 + k], want.box[k], 1e-3f) << k;
  // detect() on a device model (the convenience path) agrees too.
  const TopBox via_detect = m.detect_top1(frame);
  EXPECT_NEAR(via_detect.score, want.score, 1e-4f);
}

// The frame path captures into one CUDA graph (no sync, no driver allocation, no host access
// inside), and the replay on a new frame in the same input buffer gives the eager result.
TEST(DFineModelCudaMisc, FramePathCapturesAsOneGraph) {
  UM_REQUIRE_CUDA();
  const std::filesystem::path ckpt = test::fixtures_dir() / "dfine_n" / "checkpoint.pth";
  UM_REQUIRE_FIXTURE(ckpt);
  for (DType dt : {DType::kF32, DType::kF16}) {
    Options opt;
    opt.device = Device::cuda();
    opt.dtype = dt;
    auto gpu = DFine::load(ckpt.string(), opt);
    ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
    const DFine& m = **gpu;
    const Geometry g = m.geometry(422, 558);
    // Device buffers made outside the graph's private pool: after the capture, a block of that
    // pool may only be handed out again while no replay is pending (the graph writes it).
    const Tensor first = gray_u8(pattern_frame(422, 558)).to(Device::cuda());
    io::Image inv = pattern_frame(422, 558);
    for (auto& v : inv.pixels) v = static_cast<uint8_t>(255 - v);
    const Tensor inv_gpu = gray_u8(inv).to(Device::cuda());
    // The input buffer the graph reads: frames are copied into it before each replay.
    Tensor slot = Tensor::empty({558, 422}, DType::kU8, Device::cuda());
    cuda::Stream stream;
    cuda::StreamScope stream_scope(stream.get());
    cuda::DevicePool pool;
    cuda::PoolScope pool_scope(&pool);
    slot.copy_from(first);
    { const Tensor warm = m.top1_device(m.forward(m.preprocess_device(slot)), g); }
    cuda::synchronize(stream.get());
    const uint64_t syncs = cuda::host_sync_count();
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    Tensor captured;
    UM_CUDA_CHECK(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal));
    try {
      captured = m.top1_device(m.forward(m.preprocess_device(slot)), g);
    } catch (const std::exception& e) {
      cudaStreamEndCapture(stream.get(), &graph);
      if (graph) cudaGraphDestroy(graph);
      FAIL() << "capture failed: " << e.what();
    }
    UM_CUDA_CHECK(cudaStreamEndCapture(stream.get(), &graph));
    UM_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    EXPECT_EQ(cuda::host_sync_count(), syncs);
    // Replay on the inverted frame and compare with the eager path on the same frame.
    slot.copy_from(inv_gpu);
    UM_CUDA_CHECK(cudaGraphLaunch(exec, stream.get()));
    cuda::synchronize(stream.get());
    const Tensor replayed = to_cpu_f32(captured);
    const Tensor eager = to_cpu_f32(m.top1_device(m.forward(m.preprocess_device(inv_gpu)), g));
    EXPECT_EQ(replayed.data<float>()[1], eager.data<float>()[1]) << dtype_name(dt);
    EXPECT_NEAR(replayed.data<float>()[0], eager.data<float>()[0], 1e-5f) << dtype_name(dt);
    for (int k = 2; k < 6; ++k) {
      EXPECT_NEAR(replayed.data<float>()[k], eager.data<float>()[k], 1e-3f) << dtype_name(dt) << k;
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
}

TEST(DFineModelCudaMisc, WrongDeviceInputIsRefused) {
  UM_REQUIRE_CUDA();
  const std::filesystem::path ckpt = test::fixtures_dir() / "dfine_n" / "checkpoint.pth";
  UM_REQUIRE_FIXTURE(ckpt);
  Options opt;
  opt.device = Device::cuda();
  auto gpu = DFine::load(ckpt.string(), opt);
  ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
  EXPECT_THROW((*gpu)->forward(Tensor::zeros({1, 3, 640, 640})), Error);
  EXPECT_THROW((*gpu)->preprocess_device(Tensor::zeros({558, 422}, DType::kU8)), Error);
  EXPECT_THROW((*gpu)->preprocess_device(Tensor::zeros({558, 422}, DType::kF32, Device::cuda())),
               Error);
}

}  // namespace
}  // namespace um::dfine
