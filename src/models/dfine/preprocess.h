// File: src/models/dfine/preprocess.h
// Purpose: frame -> D-FINE input tensor, exactly as the fixtures' meta.json says for the default
// (stretch) mode: 8-bit -> /255 -> bilinear resize to the input size (align_corners=False, no
// antialias) -> gray replicated to the stem's channel count. Letterbox mode keeps the aspect
// ratio: the frame is resized by min(W_in/W, H_in/H), centred, and the border filled; the
// returned geometry maps boxes back to frame pixels.
#pragma once

#include "core/tensor.h"
#include "io/image.h"
#include "models/dfine/config.h"

namespace um::dfine {

struct Geometry {
  int frame_width = 0, frame_height = 0;
  int input_width = 0, input_height = 0;
  ResizeMode mode = ResizeMode::kStretch;
  float scale = 1.f;             // letterbox: input pixels per frame pixel
  float pad_x = 0.f, pad_y = 0.f;  // letterbox: offset of the frame inside the input
};

struct Preprocessed {
  Tensor input;  // [1, channels, input_height, input_width]
  Geometry geometry;
};

// Where a frame of frame_width x frame_height lands in the input (resize mode and size from
// options); the same numbers preprocess() uses.
Geometry make_geometry(int frame_width, int frame_height, const Options& options);

// The tensor form of preprocess() for a gray uint8 frame [H, W] on any device (the GPU frame
// path): /255 -> bilinear resize (align_corners=False, no antialias), letterboxed per options ->
// replicated to `channels` -> [1, channels, input_height, input_width] in `dtype`. All nn ops,
// no host access to the pixels.
Tensor preprocess_gray_tensor(const Tensor& frame_u8, int channels, const Options& options,
                              DType dtype);

// channels: 3 (RGB stem; gray frames are replicated) or 1 (mono stem; RGB frames -> luma).
// Throws um::Error (kInvalidArgument / kOutOfRange) on an empty or unsupported image.
Preprocessed preprocess(const io::Image& frame, int channels, const Options& options);

}  // namespace um::dfine
