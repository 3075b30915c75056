// File: src/models/mobilesam/preprocess.cpp
// Purpose: MobileSAM preprocessing (see preprocess.h).
#include "models/mobilesam/preprocess.h"

#include <algorithm>
#include <string>

#include "nn/resize_antialias.h"

namespace um::mobilesam {

InputGeometry input_geometry(int64_t h, int64_t w, int64_t target) {
  const double scale = static_cast<double>(target) / static_cast<double>(std::max(h, w));
  InputGeometry g;
  g.orig_h = h;
  g.orig_w = w;
  g.input_h = static_cast<int64_t>(static_cast<double>(h) * scale + 0.5);
  g.input_w = static_cast<int64_t>(static_cast<double>(w) * scale + 0.5);
  return g;
}

Result<Tensor> frame_to_rgb(const io::Image& frame) {
  if (frame.width <= 0 || frame.height <= 0) {
    return invalid_argument("MobileSAM: empty frame (" + std::to_string(frame.width) + "x" +
                            std::to_string(frame.height) + ")");
  }
  if (frame.channels != 1 && frame.channels != 3 && frame.channels != 4) {
    return invalid_argument("MobileSAM: frame has " + std::to_string(frame.channels) +
                            " channels; expected 1 (gray), 3 (RGB) or 4 (RGBA)");
  }
  const size_t n = static_cast<size_t>(frame.width) * static_cast<size_t>(frame.height);
  if (frame.pixels.size() != n * static_cast<size_t>(frame.channels)) {
    return invalid_argument("MobileSAM: frame " + std::to_string(frame.width) + "x" +
                            std::to_string(frame.height) + "x" + std::to_string(frame.channels) +
                            " holds " + std::to_string(frame.pixels.size()) + " bytes");
  }
  Tensor rgb = Tensor::empty({frame.height, frame.width, 3}, DType::kU8);
  uint8_t* d = rgb.data<uint8_t>();
  const uint8_t* s = frame.pixels.data();
  const int ch = frame.channels;
  for (size_t i = 0; i < n; ++i) {
    if (ch == 1) {
      d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
    } else {
      d[3 * i] = s[ch * i];
      d[3 * i + 1] = s[ch * i + 1];
      d[3 * i + 2] = s[ch * i + 2];
    }
  }
  return rgb;
}

Tensor resize_longest_side(const Tensor& rgb_hwc, const InputGeometry& g) {
  const Tensor r = nn::resize_bilinear_antialias_u8(rgb_hwc, g.input_h, g.input_w);
  return r.permute({2, 0, 1}).contiguous().unsqueeze(0);
}

Tensor normalize_and_pad(const Tensor& resized, int64_t size) {
  static constexpr float kMean[3] = {123.675f, 116.28f, 103.53f};
  static constexpr float kStd[3] = {58.395f, 57.12f, 57.375f};
  const int64_t h = resized.size(2), w = resized.size(3);
  Tensor out = Tensor::zeros({1, 3, size, size});
  const Tensor src = resized.contiguous();
  const uint8_t* s = src.data<uint8_t>();
  float* d = out.data<float>();
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t y = 0; y < h; ++y) {
      const uint8_t* row = s + (c * h + y) * w;
      float* orow = d + (c * size + y) * size;
      // Sam.preprocess: (x - pixel_mean) / pixel_std in float32 (a division, as PyTorch does).
      for (int64_t x = 0; x < w; ++x) orow[x] = (static_cast<float>(row[x]) - kMean[c]) / kStd[c];
    }
  }
  return out;
}

}  // namespace um::mobilesam
