// File: src/monitor/frame_png.cpp
// Purpose: overlay compositing and in-memory PNG encoding (libpng) for the dashboard.
#include "monitor/frame_png.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>

namespace um::monitor {

namespace {

void write_to_string(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), length);
}
void flush_nothing(png_structp) {}

}  // namespace

Result<std::string> encode_png(int width, int height, int channels,
                               const std::vector<uint8_t>& pixels) {
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
    return invalid_argument("encode_png: bad geometry " + std::to_string(width) + "x" +
                            std::to_string(height) + "x" + std::to_string(channels));
  }
  const size_t row = static_cast<size_t>(width) * static_cast<size_t>(channels);
  if (pixels.size() != row * static_cast<size_t>(height)) {
    return invalid_argument("encode_png: pixel buffer size does not match geometry");
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (!png) return internal_error("encode_png: png_create_write_struct failed");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return internal_error("encode_png: png_create_info_struct failed");
  }
  std::string out;
  // libpng reports errors by longjmp; nothing with a destructor is created after this point
  // (rows pointers are computed inside the loop from plain data).
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return internal_error("encode_png: libpng error");
  }
  png_set_write_fn(png, &out, write_to_string, flush_nothing);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  // Speed over size: this runs per dashboard refresh, on the monitor's HTTP thread.
  png_set_compression_level(png, 1);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y) {
    png_write_row(png, const_cast<png_bytep>(pixels.data() + static_cast<size_t>(y) * row));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

Result<std::string> render_frame_png(const DisplayFrame& f) {
  const int w = f.width, h = f.height;
  const size_t n = static_cast<size_t>(w) * static_cast<size_t>(h);
  if (w <= 0 || h <= 0 || f.gray.size() != n || (!f.mask.empty() && f.mask.size() != n)) {
    return invalid_argument("render_frame_png: frame buffers do not match its size");
  }
  std::vector<uint8_t> rgb(n * 3);
  auto inside = [&](int x, int y) {
    return x >= 0 && y >= 0 && x < w && y < h && f.mask[static_cast<size_t>(y) * w + x] != 0;
  };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      uint8_t r = f.gray[i], g = f.gray[i], b = f.gray[i];
      if (!f.mask.empty() && f.mask[i] != 0) {
        const bool edge = !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) ||
                          !inside(x, y + 1);
        if (edge) {  // opaque outline so thin masks stay visible
          r = 255, g = 60, b = 60;
        } else {     // 45% red tint over the ultrasound texture
          r = static_cast<uint8_t>(0.55 * r + 0.45 * 255);
          g = static_cast<uint8_t>(0.55 * g);
          b = static_cast<uint8_t>(0.55 * b);
        }
      }
      rgb[i * 3] = r;
      rgb[i * 3 + 1] = g;
      rgb[i * 3 + 2] = b;
    }
  }
  if (f.box) {
    auto clampi = [](float v, int hi) {
      if (!std::isfinite(v)) return 0;
      return std::clamp(static_cast<int>(std::lround(v)), 0, hi);
    };
    const int x0 = clampi((*f.box)[0], w - 1), y0 = clampi((*f.box)[1], h - 1);
    const int x1 = clampi((*f.box)[2], w - 1), y1 = clampi((*f.box)[3], h - 1);
    const int t = std::max(1, std::min(w, h) / 200);  // ~2 px on a 422x558 frame
    auto put = [&](int x, int y) {
      if (x < 0 || y < 0 || x >= w || y >= h) return;
      const size_t i = (static_cast<size_t>(y) * w + x) * 3;
      rgb[i] = 40, rgb[i + 1] = 230, rgb[i + 2] = 90;
    };
    for (int k = 0; k < t; ++k) {
      for (int x = std::min(x0, x1); x <= std::max(x0, x1); ++x) {
        put(x, y0 + k);
        put(x, y1 - k);
      }
      for (int y = std::min(y0, y1); y <= std::max(y0, y1); ++y) {
        put(x0 + k, y);
        put(x1 - k, y);
      }
    }
  }
  return encode_png(w, h, 3, rgb);
}

std::optional<std::string> Monitor::latest_frame_png() const {
  std::shared_ptr<const DisplayFrame> frame;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!frame_) return std::nullopt;
    if (png_ && png_seq_ == frame_->seq) return *png_;
    frame = frame_;
  }
  Result<std::string> png = render_frame_png(*frame);
  if (!png.ok()) return std::nullopt;
  auto shared = std::make_shared<const std::string>(std::move(png).value());
  std::lock_guard<std::mutex> lock(mu_);
  png_ = shared;
  png_seq_ = frame->seq;
  return *shared;
}

}  // namespace um::monitor
