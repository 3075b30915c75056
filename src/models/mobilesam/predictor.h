// File: src/models/mobilesam/predictor.h
// Purpose: SamPredictor with the official semantics: set_image() runs the image encoder once;
// predict() reuses the embedding for any number of prompts (box, points + labels, a previous
// low-res mask) and returns results at the frame's native size.
// Prompt rules (checked before any model work, so bad input never reaches the model):
//   - at least one of box, points, mask_input (else kInvalidArgument "empty prompt");
//   - coordinates must be finite; a box with x1 < x0 or y1 < y0 is an error (kInvalidArgument);
//   - a box that overlaps the frame but sticks out is CLAMPED to [0, W] x [0, H] (documented
//     choice: detector boxes routinely touch the border); a box entirely outside the frame is
//     kOutOfRange; points must lie in [0, W] x [0, H] (kOutOfRange otherwise);
//   - point labels must be 0 (background) or 1 (foreground); -1 is internal padding only;
//   - mask_input: float32 low-res logits [1, 256, 256] or [1, 1, 256, 256] (e.g. a previous
//     low_res_logits channel).
// Postprocess (Sam.postprocess_masks): bilinear (align_corners=False) to 1024x1024, crop to the
// resized size, bilinear to the frame size; masks = logits > 0.
// Device: with a model placed on CUDA the predictor uploads the preprocessed frame and reads the
// results back (host synchronisations; results are CPU tensors as above): a convenience and
// test path. The per-frame GPU path without host involvement is device_path.h.
// Usage:
//   Predictor p(model);
//   UM_RETURN_IF_ERROR(p.set_image(frame));
//   Prompt pr; pr.box = Box{x0, y0, x1, y1};
//   UM_ASSIGN_OR_RETURN(Prediction r, p.predict(pr));
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "io/image.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/preprocess.h"

namespace um::mobilesam {

struct Box {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // frame pixels
};
struct Point {
  float x = 0, y = 0;  // frame pixels
  int label = 1;       // 1 foreground, 0 background
};
struct Prompt {
  std::optional<Box> box;
  std::vector<Point> points;
  Tensor mask_input;  // optional low-res logits, [1, 256, 256] or [1, 1, 256, 256]
  bool multimask = false;
};

struct Prediction {
  Tensor masks;            // bool [1, C, H, W]: mask_logits > 0
  Tensor mask_logits;      // float32 [1, C, H, W] at the frame's native size
  Tensor iou_predictions;  // float32 [1, C]
  Tensor low_res_logits;   // float32 [1, C, 256, 256]: feed a channel back as mask_input
  bool box_clamped = false;
};

// Validates a prompt against a frame of frame_w x frame_h and returns it with the box clamped
// (see the rules above). Cheap: callers may validate before computing the embedding.
Result<Prompt> check_prompt(const Prompt& prompt, int64_t frame_w, int64_t frame_h,
                            bool* box_clamped = nullptr);

class Predictor {
 public:
  explicit Predictor(std::shared_ptr<const MobileSam> model) : model_(std::move(model)) {}

  // Preprocesses the frame (gray or RGB) and computes its image embedding.
  Status set_image(const io::Image& frame);
  // Uses an embedding computed elsewhere (the official import_fields): [1, 256, 64, 64] for a
  // frame of frame_h x frame_w.
  Status set_image_embedding(const Tensor& embedding, int64_t frame_h, int64_t frame_w);
  void reset_image();

  bool has_image() const { return embedding_.defined(); }
  const Tensor& image_embedding() const { return embedding_; }
  const Tensor& resized_rgb() const { return resized_rgb_; }  // uint8 [1, 3, h, w] (set_image)
  const InputGeometry& geometry() const { return geometry_; }

  // Errors: kFailedPrecondition (no image set), the prompt errors above.
  Result<Prediction> predict(const Prompt& prompt) const;

 private:
  std::shared_ptr<const MobileSam> model_;
  Tensor embedding_;
  Tensor resized_rgb_;
  InputGeometry geometry_;
};

// Sam.postprocess_masks: low-res logits [1, C, 256, 256] -> [1, C, orig_h, orig_w].
Tensor postprocess_masks(const Tensor& low_res, const InputGeometry& g);

}  // namespace um::mobilesam
