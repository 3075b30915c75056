// File: src/models/dfine/preprocess.cpp
// Purpose: D-FINE input preprocessing; see preprocess.h.
#include "models/dfine/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/status.h"
#include "nn/ops.h"

namespace um::dfine {

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
  Geometry& g = out.geometry;
  g.frame_width = w;
  g.frame_height = h;
  g.input_width = iw;
  g.input_height = ih;
  g.mode = options.resize;
  Tensor resized;
  if (options.resize == ResizeMode::kStretch) {
    resized = nn::resize_bilinear(src, ih, iw, false);
  } else {
    g.scale = std::min(static_cast<float>(iw) / w, static_cast<float>(ih) / h);
    const int nw = std::clamp(static_cast<int>(std::lround(w * g.scale)), 1, iw);
    const int nh = std::clamp(static_cast<int>(std::lround(h * g.scale)), 1, ih);
    const int px = (iw - nw) / 2, py = (ih - nh) / 2;
    g.pad_x = static_cast<float>(px);
    g.pad_y = static_cast<float>(py);
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
