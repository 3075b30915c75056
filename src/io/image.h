// File: src/io/image.h
// Purpose: 8-bit images in and out (PNG via libpng, JPEG via libturbojpeg), interleaved HWC.
// Ultrasound frames are gray; RGB-encoded gray is accepted and converted by to_gray().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace um::io {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 gray, 3 RGB, 4 RGBA
  std::vector<uint8_t> pixels;  // height * width * channels, row-major, interleaved
};

// Reads PNG or JPEG (by magic bytes); 16-bit PNGs are reduced to 8 bits, palettes expanded.
// Errors: kNotFound, kDataLoss (corrupt), kInvalidArgument (not an image).
Result<Image> read_image(const std::string& path);
// The same from bytes in memory; `what` names the source in error messages.
Result<Image> decode_image(const uint8_t* data, size_t size, const std::string& what = "image");
Status write_png(const std::string& path, const Image& image);
// Gray from RGB(A) by ITU-R 601 luma (R*299 + G*587 + B*114)/1000, exact for RGB-encoded gray.
Image to_gray(const Image& image);

}  // namespace um::io
