// The device placements' restructured mask decoder run on the CPU (Placement::
// force_device_layouts) against the official sequence on the same weights (the phantom
// checkpoint): the stacked q/k/v projections, the dense PE folded into the image-side
// projections (TwoWayTransformer::forward), the 2x2 transposed convs as channels-last GEMMs with
// the masks' pixel order restored in the conversion, and the mask selection
// (mask_decoder.cpp). The same math, so the results agree within float rounding; a layout,
// folding or selection mistake would not. The GPU runs these layers in float32 and float16
// (tests/cuda/sam_decoder_cuda_test.cpp); this test catches such mistakes without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <string>

#include "io/checkpoint.h"
#include "io/weight_source.h"
#include "models/mobilesam/mask_decoder.h"
#include "models/mobilesam/prompt_encoder.h"
#include "test_support.h"

namespace um::mobilesam {
namespace {

Tensor random_embedding(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  Tensor t = Tensor::empty({1, 256, 64, 64});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

struct Diff {
  float max_abs = 0.f, scale = 0.f;
};
Diff diff(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Diff d;
  for (int64_t i = 0; i < b.numel(); ++i) {
    d.max_abs = std::max(d.max_abs, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
    d.scale = std::max(d.scale, std::fabs(b.data<float>()[i]));
  }
  return d;
}

TEST(DecoderDeviceLayouts, MatchTheOfficialSequence) {
  const std::string path = (test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
  auto ckpt = io::load_checkpoint(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  const io::WeightSource w(ckpt->tensors);
  const PromptEncoder pe = PromptEncoder::load(w.sub("prompt_encoder."));
  const MaskDecoder official = MaskDecoder::load(w.sub("mask_decoder."));
  MaskDecoder restructured = MaskDecoder::load(w.sub("mask_decoder."));
  Placement p;  // CPU float32, with the device layouts
  p.force_device_layouts = true;
  restructured.place(p, pe.dense_pe_tokens(), pe.dense_pe_tokens());

  const Tensor emb = random_embedding(7);
  const Tensor sparse =
      pe.encode({}, {}, std::array<float, 4>{210.f, 300.f, 640.f, 720.f}, Tensor()).sparse;
  // The prompt encoder's own PE takes the folded path; a copy of it (other memory, same values)
  // the unfolded one.
  const Tensor pe_copy = pe.dense_pe().contiguous();
  for (const bool multimask : {false, true}) {
    const DecoderOutput ref =
        official.forward(emb, pe.dense_pe(), sparse, pe.no_mask_dense(), multimask);
    for (const bool folded : {true, false}) {
      SCOPED_TRACE(std::string(multimask ? "multimask" : "single mask") +
                   (folded ? ", folded PE" : ", PE copy"));
      const DecoderOutput out = restructured.forward(emb, folded ? pe.dense_pe() : pe_copy,
                                                     sparse, pe.no_mask_dense(), multimask);
      ASSERT_EQ(out.low_res_logits.shape(), ref.low_res_logits.shape());
      ASSERT_EQ(out.iou_predictions.shape(), ref.iou_predictions.shape());
      const Diff l = diff(out.low_res_logits, ref.low_res_logits);
      const Diff i = diff(out.iou_predictions, ref.iou_predictions);
      std::printf("device layouts (%s, %s): low-res logits max |diff| %.3g (scale %.3g), "
                  "iou %.3g\n",
                  multimask ? "multimask" : "single", folded ? "folded PE" : "PE copy", l.max_abs,
                  l.scale, i.max_abs);
      EXPECT_LE(l.max_abs, 1e-5f * std::max(l.scale, 1.f));
      EXPECT_LE(i.max_abs, 1e-5f * std::max(i.scale, 1.f));
      // The restructured layers really ran: their summation order differs from the official
      // sequence's somewhere in 65536 logits (bit-identical results would mean the flag was
      // ignored and this test compared the official path with itself).
      EXPECT_GT(l.max_abs, 0.f);
    }
  }
}

}  // namespace
}  // namespace um::mobilesam
