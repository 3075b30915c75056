// File: src/models/mobilesam/mobilesam.cpp
// Purpose: MobileSAM loading (see mobilesam.h). The submodule loaders throw um::Error on a
// missing key or a wrong shape; here that becomes the returned Status, with the path as context.
#include "models/mobilesam/mobilesam.h"

#include <exception>

#include "io/weight_source.h"

namespace um::mobilesam {

Result<std::shared_ptr<const MobileSam>> MobileSam::from_tensors(const io::TensorMap& tensors) {
  try {
    auto m = std::make_shared<MobileSam>();
    const io::WeightSource w(tensors);
    m->image_encoder_ = TinyVit::load(w.sub("image_encoder."));
    m->prompt_encoder_ = PromptEncoder::load(w.sub("prompt_encoder."));
    m->mask_decoder_ = MaskDecoder::load(w.sub("mask_decoder."));
    return std::shared_ptr<const MobileSam>(std::move(m));
  } catch (const Error& e) {
    return e.status().with_context("loading MobileSAM weights");
  }
}

Result<std::shared_ptr<const MobileSam>> MobileSam::load(const std::string& checkpoint_path) {
  auto ckpt = io::load_checkpoint(checkpoint_path);
  if (!ckpt.ok()) return ckpt.status().with_context("reading " + checkpoint_path);
  auto model = from_tensors(ckpt->tensors);
  if (!model.ok()) return model.status().with_context(checkpoint_path);
  return model;
}

}  // namespace um::mobilesam
