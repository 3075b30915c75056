// File: src/models/mobilesam/mobilesam.cpp
// Purpose: MobileSAM loading (see mobilesam.h). The submodule loaders throw um::Error on a
// missing key or a wrong shape; here that becomes the returned Status, with the path as context.
#include "models/mobilesam/mobilesam.h"

#include <exception>

#include "io/weight_source.h"

#ifdef UM_WITH_CUDA
#include "core/cuda/cuda_runtime.h"
#endif

namespace um::mobilesam {

namespace {

// The placement is checked before the (slow) build so that a wrong request fails at once.
Status check_placement(Device device, DType dtype) {
  if (dtype != DType::kF32 && dtype != DType::kF16) {
    return invalid_argument(std::string("MobileSAM compute dtype must be float32 or float16, got ") +
                            dtype_name(dtype));
  }
  if (device.is_cpu()) {
    if (dtype != DType::kF32) {
      return invalid_argument("MobileSAM float16 runs on CUDA only; the CPU path is float32");
    }
    return Status::Ok();
  }
#ifdef UM_WITH_CUDA
  if (!cuda::available()) {
    return failed_precondition("MobileSAM on " + device.str() + ": " + cuda::describe_device());
  }
  cuda::install_tensor_backend();  // idempotent: device tensors need the allocator hooks
  return Status::Ok();
#else
  return failed_precondition("MobileSAM on " + device.str() +
                             ": this build has no CUDA backend (configure with ULTRAMOTION_CUDA)");
#endif
}

}  // namespace

Result<std::shared_ptr<const MobileSam>> MobileSam::from_tensors(const io::TensorMap& tensors,
                                                                 Device device, DType dtype) {
  UM_RETURN_IF_ERROR(check_placement(device, dtype));
  try {
    auto m = std::make_shared<MobileSam>();
    const io::WeightSource w(tensors);
    m->image_encoder_ = TinyVit::load(w.sub("image_encoder."));
    m->prompt_encoder_ = PromptEncoder::load(w.sub("prompt_encoder."));
    m->mask_decoder_ = MaskDecoder::load(w.sub("mask_decoder."));
    const Placement p{device, dtype};
    if (!p.is_cpu_f32()) {
      m->image_encoder_.place(p);
      const Tensor pe_host = m->prompt_encoder_.dense_pe_tokens();  // float32, host
      m->prompt_encoder_.place(p);
      // The decoder folds the dense PE into its image-side projections (device placements).
      m->mask_decoder_.place(p, pe_host, m->prompt_encoder_.dense_pe_tokens());
      m->placement_ = p;
    }
    return std::shared_ptr<const MobileSam>(std::move(m));
  } catch (const Error& e) {
    return e.status().with_context("loading MobileSAM weights");
  }
}

Result<std::shared_ptr<const MobileSam>> MobileSam::load(const std::string& checkpoint_path,
                                                         Device device, DType dtype) {
  UM_RETURN_IF_ERROR(check_placement(device, dtype));
  auto ckpt = io::load_checkpoint(checkpoint_path);
  if (!ckpt.ok()) return ckpt.status().with_context("reading " + checkpoint_path);
  auto model = from_tensors(ckpt->tensors, device, dtype);
  if (!model.ok()) return model.status().with_context(checkpoint_path);
  return model;
}

}  // namespace um::mobilesam
