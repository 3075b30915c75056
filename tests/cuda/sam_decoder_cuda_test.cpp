// GPU tests of MobileSAM's mask decoder alone (src/models/mobilesam/mask_decoder.cpp,
// two_way_transformer.cpp) against the CPU decoder of the same checkpoint (the phantom model),
// on a random image embedding and a box prompt, with the prompt encoder's PE (folded into the
// image-side projections at load) and with a copy of it (the general device path): single mask
// and multimask (the device path's channels-last upscaling GEMMs reorder the pixels of the
// selected masks in the float32 conversion: a wrong order or mask selection shows as large
// errors), float32 and float16.
// Tolerances: float32 3e-4 of the output's scale (only GEMM/attention summation orders differ);
// float16 (every activation rounded to float16, statistics in float32) 1e-1 of the scale: a sanity
// bound; the float32 run is the one that catches a wrong pixel order or mask selection.
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>

#include "core/status.h"
#include "cuda_test_support.h"
#include "models/mobilesam/mobilesam.h"
#include "test_support.h"

namespace um::mobilesam {
namespace {

using test::random_cpu;
using test::to_gpu;

std::string phantom_checkpoint() {
  return (test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
}

TEST(SamDecoderCuda, MatchesCpuDecoder) {
  UM_REQUIRE_CUDA();
  auto cpu = MobileSam::load(phantom_checkpoint());
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  const Tensor emb = random_cpu({1, 256, 64, 64}, 3, -1.f, 1.f);
  const EncodedPrompt enc = (*cpu)->prompt_encoder().encode(
      {}, {}, std::array<float, 4>{210.f, 300.f, 640.f, 720.f}, Tensor());
  const PromptEncoder& pe_cpu = (*cpu)->prompt_encoder();
  for (const DType dt : {DType::kF32, DType::kF16}) {
    auto gpu = MobileSam::load(phantom_checkpoint(), Device::cuda(), dt);
    ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
    const PromptEncoder& pe_gpu = (*gpu)->prompt_encoder();
    const float tol = dt == DType::kF32 ? 3e-4f : 1e-1f;
    // The prompt encoder's own PE takes the folded path (the PE folded into the image-side
    // projections at load); a copy of it (other memory, same values) the general device path.
    const Tensor pe_copy = pe_gpu.dense_pe().contiguous();
    for (const bool folded : {true, false}) {
      for (const bool multimask : {false, true}) {
        const std::string what = std::string(dtype_name(dt)) +
                                 (multimask ? " multimask" : " single mask") +
                                 (folded ? ", folded PE" : ", PE copy");
        SCOPED_TRACE(what);
        const DecoderOutput ref = (*cpu)->mask_decoder().forward(
            emb, pe_cpu.dense_pe(), enc.sparse, pe_cpu.no_mask_dense(), multimask);
        const DecoderOutput out = (*gpu)->mask_decoder().forward(
            to_gpu(emb, dt), folded ? pe_gpu.dense_pe() : pe_copy, to_gpu(enc.sparse, dt),
            pe_gpu.no_mask_dense(), multimask);
        ASSERT_EQ(out.low_res_logits.shape(), ref.low_res_logits.shape());
        EXPECT_EQ(out.low_res_logits.dtype(), DType::kF32);
        EXPECT_EQ(out.iou_predictions.dtype(), DType::kF32);
        EXPECT_GPU_NEAR(out.low_res_logits, ref.low_res_logits, tol);
        EXPECT_GPU_NEAR(out.iou_predictions, ref.iou_predictions, tol);
        std::printf("[sam-decoder-cuda] %s: low-res logits max |diff| %.3g (scale %.3g)\n",
                    what.c_str(), test::max_abs_diff_gpu(out.low_res_logits, ref.low_res_logits),
                    test::scale_of(ref.low_res_logits));
      }
    }
  }
}

}  // namespace
}  // namespace um::mobilesam
