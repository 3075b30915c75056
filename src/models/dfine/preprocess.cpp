// File: src/models/dfine/preprocess.cpp
// Purpose: D-FINE input preprocessing; see preprocess.h.
#include "models/dfine/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_dfine.h"

namespace um::dfine {

namespace {

// The frame's extent inside the letterbox: round(size * scale), within [1, input size].
int letterbox_size(int size, float scale, int input_size) {
  return std::clamp(static_cast<int>(std::lround(size * scale)), 1, input_size);
}

void check_input_size(const Options& options) {
  const int ih = options.input_height, iw = options.input_width;
  if (ih <= 0 || iw <= 0 || ih % 32 != 0 || iw % 32 != 0) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE input size " + std::to_string(iw) + "x" +
                                                  std::to_string(ih) + " must be positive multiples of 32");
  }
}

}  // namespace

Geometry make_geometry(int w, int h, const Options& options) {
  check_input_size(options);
  if (w <= 0 || h <= 0) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE geometry: empty frame " + std::to_string(w) +
                                                  "x" + std::to_string(h));
  }
  const int ih = options.input_height, iw = options.input_width;
  Geometry g;
  g.frame_width = w;
  g.frame_height = h;
  g.input_width = iw;
  g.input_height = ih;
  g.mode = options.resize;
  if (options.resize == ResizeMode::kLetterbox) {
    g.scale = std::min(static_cast<float>(iw) / w, static_cast<float>(ih) / h);
    const int nw = letterbox_size(w, g.scale, iw), nh = letterbox_size(h, g.scale, ih);
    g.pad_x = static_cast<float>((iw - nw) / 2);
    g.pad_y = static_cast<float>((ih - nh) / 2);
  }
  return g;
}

Tensor preprocess_gray_tensor(const Tensor& frame_u8, int channels, const Options& options,
                              DType dtype) {
  if (!frame_u8.defined() || frame_u8.dtype() != DType::kU8 || frame_u8.dim() != 2 ||
      frame_u8.size(0) < 1 || frame_u8.size(1) < 1) {
    throw Error(StatusCode::kInvalidArgument,
                "D-FINE preprocess: expected a uint8 gray frame [H, W], got " +
                    (frame_u8.defined() ? frame_u8.str() : std::string("an undefined tensor")));
  }
  if (channels != 1 && channels != 3) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE preprocess: the model takes " +
                                                  std::to_string(channels) + " channels (1 or 3 supported)");
  }
  const int h = static_cast<int>(frame_u8.size(0)), w = static_cast<int>(frame_u8.size(1));
  const Geometry g = make_geometry(w, h, options);
  const int ih = options.input_height, iw = options.input_width;
  const Tensor src = nn::u8_to_float(frame_u8, 255.f).view({1, 1, h, w});
  Tensor resized;
  if (options.resize == ResizeMode::kStretch) {
    resized = nn::resize_bilinear(src, ih, iw, false);
  } else {
    const int nw = letterbox_size(w, g.scale, iw), nh = letterbox_size(h, g.scale, ih);
    const int px = static_cast<int>(g.pad_x), py = static_cast<int>(g.pad_y);
    resized = nn::pad2d(nn::resize_bilinear(src, nh, nw, false), px, iw - nw - px, py, ih - nh - py,
                        options.letterbox_fill);
  }
  if (channels == 3) resized = nn::concat({resized, resized, resized}, 1);
  return resized.to(dtype);
}

Preprocessed preprocess(const io::Image& frame_in, int channels, const Options& options) {
  if (frame_in.width <= 0 || frame_in.height <= 0 ||
      frame_in.pixels.size() != static_cast<size_t>(frame_in.width) * frame_in.height * frame_in.channels) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE preprocess: empty or inconsistent image " +
                                                  std::to_string(frame_in.width) + "x" +
                                                  std::to_string(frame_in.height) + "x" +
                                                  std::to_string(frame_in.channels));
  }
  if (frame_in.channels != 1 && frame_in.channels != 3 && frame_in.channels != 4) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE preprocess: unsupported channel count " +
                                                  std::to_string(frame_in.channels));
  }
  if (channels != 1 && channels != 3) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE preprocess: the model takes " +
                                                  std::to_string(channels) + " channels (1 or 3 supported)");
  }
  const int ih = options.input_height, iw = options.input_width;
  if (ih <= 0 || iw <= 0 || ih % 32 != 0 || iw % 32 != 0) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE input size " + std::to_string(iw) + "x" +
                                                  std::to_string(ih) + " must be positive multiples of 32");
  }
  // Gray frames stay one plane (resized once, replicated after); RGB(A) frames keep 3 planes
  // unless the stem is mono.
  const io::Image frame = (channels == 1 && frame_in.channels != 1) ? io::to_gray(frame_in) : frame_in;
  const int planes = frame.channels == 1 ? 1 : 3;
  const int w = frame.width, h = frame.height;
  Tensor src = Tensor::empty({1, planes, h, w});
  float* ps = src.data<float>();
  for (int c = 0; c < planes; ++c)
    for (int i = 0; i < h * w; ++i)
      ps[c * h * w + i] = static_cast<float>(frame.pixels[static_cast<size_t>(i) * frame.channels + c]) / 255.f;

  Preprocessed out;
  const Geometry& g = out.geometry = make_geometry(w, h, options);
  Tensor resized;
  if (options.resize == ResizeMode::kStretch) {
    resized = nn::resize_bilinear(src, ih, iw, false);
  } else {
    const int nw = letterbox_size(w, g.scale, iw), nh = letterbox_size(h, g.scale, ih);
    const int px = static_cast<int>(g.pad_x), py = static_cast<int>(g.pad_y);
    const Tensor inner = nn::resize_bilinear(src, nh, nw, false);
    resized = Tensor::full({1, planes, ih, iw}, options.letterbox_fill);
    for (int c = 0; c < planes; ++c)
      for (int y = 0; y < nh; ++y)
        std::memcpy(resized.data<float>() + (static_cast<int64_t>(c) * ih + py + y) * iw + px,
                    inner.data<float>() + (static_cast<int64_t>(c) * nh + y) * nw, sizeof(float) * nw);
  }
  if (planes == channels) {
    out.input = resized;
  } else {  // gray -> replicate to 3 channels
    out.input = nn::concat({resized, resized, resized}, 1);
  }
  return out;
}

}  // namespace um::dfine
