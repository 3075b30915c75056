// File: src/pipeline/phantom.cpp
// Purpose: rendering of the PHANTOM.md bone phantom and its ground truth (see phantom.h).
#include "pipeline/phantom.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace um::pipeline {

const std::vector<FrameSize>& phantom_default_sizes() {
  static const std::vector<FrameSize> sizes = {{558, 422}, {480, 640}, {600, 800}, {512, 512}};
  return sizes;
}

Result<FrameSize> parse_frame_size(const std::string& text) {
  int h = 0, w = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &h, &x, &w, &extra) != 3 || (x != 'x' && x != 'X')) {
    return invalid_argument("frame size '" + text + "': expected HxW, e.g. 558x422");
  }
  if (h < kMinFrameSide || h > kMaxFrameSide || w < kMinFrameSide || w > kMaxFrameSide) {
    return out_of_range("frame size '" + text + "': each side must be in [" +
                        std::to_string(kMinFrameSide) + ", " + std::to_string(kMaxFrameSide) + "]");
  }
  return FrameSize{h, w};
}

double PhantomRng::rayleigh() {
  const double u = 1.0 - uniform01();  // (0, 1]: log never sees 0
  return std::sqrt(-2.0 * std::log(u));
}

double PhantomParams::surface_y(double x) const {
  return cy + (x - cx) * (x - cx) / (2.0 * r) + wobble * std::sin(freq * x);
}

PhantomParams draw_phantom_params(PhantomRng& rng, FrameSize size, const PhantomRanges& rg) {
  PhantomParams p;
  p.height = size.height;
  p.width = size.width;
  const double w = size.width, h = size.height;
  // Draw order is fixed (geometry, speckle, attenuation, tissue, bone) so a seed is stable.
  p.cx = rng.uniform(rg.cx_frac_w) * w;
  p.cy = rng.uniform(rg.cy_frac_h) * h;
  p.r = rng.uniform(rg.r_frac_w) * w;
  p.half = rng.uniform(rg.half_frac_w) * w;
  p.th = rng.uniform(rg.thickness_px);
  p.wobble = rng.uniform(rg.wobble_px);
  p.freq = rng.uniform(rg.wobble_freq);
  p.base = rng.uniform(rg.speckle_base);
  p.amp = rng.uniform(rg.speckle_amp);
  p.k = rng.uniform(rg.atten_k);
  p.tissue_amp = rng.uniform(rg.tissue_amp);
  p.tissue_y = rng.uniform(rg.tissue_y_frac_h) * h;
  p.tissue_slope = rng.uniform(rg.tissue_slope);
  p.tissue_width = rng.uniform(rg.tissue_width);
  p.echo = rng.uniform(rg.echo_amp);
  p.shadow = rng.uniform(rg.shadow_factor);
  p.has_bone = rng.bernoulli(rg.bone_probability);
  return p;
}

namespace {

// 3x3 box blur with OpenCV's default border (BORDER_REFLECT_101: ...c b | a b c...), done as
// two 1D passes. PHANTOM.md does not name a border; the difference is confined to the outermost
// row/column and invisible to the models.
std::vector<float> box_blur3(const std::vector<float>& img, int w, int h) {
  auto reflect = [](int i, int n) { return i < 0 ? 1 : (i >= n ? n - 2 : i); };
  std::vector<float> tmp(img.size()), out(img.size());
  for (int y = 0; y < h; ++y) {
    const float* row = &img[static_cast<size_t>(y) * w];
    float* t = &tmp[static_cast<size_t>(y) * w];
    for (int x = 0; x < w; ++x) t[x] = row[reflect(x - 1, w)] + row[x] + row[reflect(x + 1, w)];
  }
  for (int y = 0; y < h; ++y) {
    const float* a = &tmp[static_cast<size_t>(reflect(y - 1, h)) * w];
    const float* b = &tmp[static_cast<size_t>(y) * w];
    const float* c = &tmp[static_cast<size_t>(reflect(y + 1, h)) * w];
    float* o = &out[static_cast<size_t>(y) * w];
    for (int x = 0; x < w; ++x) o[x] = (a[x] + b[x] + c[x]) * (1.0f / 9.0f);
  }
  return out;
}

}  // namespace

PhantomFrame render_phantom(const PhantomParams& p, PhantomRng& rng) {
  const int w = p.width, h = p.height;
  PhantomFrame f;
  f.params = p;
  std::vector<float> img(static_cast<size_t>(w) * h);
  f.mask.assign(img.size(), 0);

  // Per column: surface height and whether the column is over the bone.
  std::vector<double> surf(w);
  std::vector<uint8_t> inside(w);
  for (int x = 0; x < w; ++x) {
    surf[x] = p.surface_y(x);
    inside[x] = std::abs(x - p.cx) < p.half ? 1 : 0;
  }

  for (int y = 0; y < h; ++y) {
    const double atten = std::clamp(1.0 - y / (p.k * h), 0.25, 1.0);
    float* row = &img[static_cast<size_t>(y) * w];
    uint8_t* mrow = &f.mask[static_cast<size_t>(y) * w];
    for (int x = 0; x < w; ++x) {
      double v = p.base + p.amp * rng.rayleigh();
      v *= atten;
      const double t = (y - p.tissue_y - p.tissue_slope * x) / p.tissue_width;
      v += p.tissue_amp * std::exp(-t * t);
      if (p.has_bone && inside[x]) {
        const double d = y - surf[x];
        v += p.echo * std::exp(-(d / p.th) * (d / p.th));
        if (d > 1.5 * p.th) v *= p.shadow;
        if (std::abs(d) < 1.2 * p.th) mrow[x] = 1;
      }
      row[x] = static_cast<float>(v);
    }
  }

  const std::vector<float> blur = box_blur3(img, w, h);
  f.pixels.resize(img.size());
  for (size_t i = 0; i < img.size(); ++i) {
    const float v = 0.5f * (img[i] + blur[i]);
    f.pixels[i] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 255.0f)));
  }
  f.has_box = mask_extent(f.mask, w, h, f.box);
  return f;
}

PhantomGenerator::PhantomGenerator(uint64_t seed, std::optional<FrameSize> size,
                                   PhantomRanges ranges)
    : rng_(seed), size_(size), ranges_(ranges) {}

PhantomFrame PhantomGenerator::next() {
  const auto& sizes = phantom_default_sizes();
  const FrameSize size = size_ ? *size_ : sizes[static_cast<size_t>(count_) % sizes.size()];
  ++count_;
  const PhantomParams p = draw_phantom_params(rng_, size, ranges_);
  return render_phantom(p, rng_);
}

Frame to_frame(const PhantomFrame& f, uint64_t id) {
  Frame frame;
  frame.id = id;
  frame.width = f.params.width;
  frame.height = f.params.height;
  frame.pixels = f.pixels;
  frame.device_name = "Image_Reference";
  return frame;
}

bool mask_extent(const std::vector<uint8_t>& mask, int width, int height, int box[4]) {
  int x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = &mask[static_cast<size_t>(y) * width];
    for (int x = 0; x < width; ++x) {
      if (!row[x]) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  if (x1 < 0) {
    box[0] = box[1] = box[2] = box[3] = 0;
    return false;
  }
  box[0] = x0;
  box[1] = y0;
  box[2] = x1 + 1;
  box[3] = y1 + 1;
  return true;
}

}  // namespace um::pipeline
