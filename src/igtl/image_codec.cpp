// IMAGE content: the 72-byte image header and the voxel block.
//   version u16 (1), components u8, scalar type u8, endian u8 (1 big, 2 little), coordinate
//   system u8 (1 RAS, 2 LPS), size u16[3], matrix f32[12] (i*spacing, j*spacing, k*spacing,
//   CENTRE), sub-volume offset u16[3], sub-volume size u16[3], then the sub-volume's voxels.
// The voxel byte count must equal what the header promises exactly: a mismatch in either
// direction is how a lying sender shows up, and is refused before any pixel is copied.
#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

#include "igtl/byte_io.h"
#include "igtl/codec.h"

namespace um::igtl {
namespace {

constexpr size_t kImageHeaderSize = 72;

constexpr Endian host_endian() {
  return std::endian::native == std::endian::little ? Endian::kLittle : Endian::kBig;
}

// Reverses the byte order of every `width`-byte scalar in place.
void swap_scalars(uint8_t* p, size_t bytes, size_t width) {
  if (width <= 1) return;
  for (size_t i = 0; i + width <= bytes; i += width) std::reverse(p + i, p + i + width);
}

std::string dims(const std::array<uint32_t, 3>& s) {
  return std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
}

}  // namespace

Status encode_image_content(const ImageContent& img, std::vector<uint8_t>& out) {
  const size_t ssize = scalar_size(img.scalar_type);
  if (ssize == 0) return invalid_argument("IMAGE: invalid scalar type");
  if (img.components < 1 || img.components > 4) {
    return invalid_argument("IMAGE: components must be 1..4, got " +
                            std::to_string(img.components));
  }
  const auto& g = img.geometry;
  for (int a = 0; a < 3; ++a) {
    if (g.size[a] < 1 || g.size[a] > 0xffff) {
      return invalid_argument("IMAGE: size " + dims(g.size) + " outside 1..65535 per axis");
    }
    if (!(g.spacing[a] > 0) || !std::isfinite(g.spacing[a])) {
      return invalid_argument("IMAGE: spacing must be positive and finite");
    }
  }
  std::array<uint32_t, 3> sub = img.subvolume_size;
  if (sub == std::array<uint32_t, 3>{0, 0, 0}) sub = g.size;
  for (int a = 0; a < 3; ++a) {
    if (sub[a] < 1 || uint64_t{img.subvolume_offset[a]} + sub[a] > g.size[a]) {
      return invalid_argument("IMAGE: sub-volume " + dims(sub) + " at " +
                              dims(img.subvolume_offset) + " does not fit in " + dims(g.size));
    }
  }
  const uint64_t expected = uint64_t{sub[0]} * sub[1] * sub[2] * img.components * ssize;
  if (img.pixels.size() != expected) {
    return invalid_argument("IMAGE: " + std::to_string(img.pixels.size()) +
                            " pixel bytes, geometry needs " + std::to_string(expected));
  }
  if (img.wire_endian != Endian::kBig && img.wire_endian != Endian::kLittle) {
    return invalid_argument("IMAGE: invalid wire endian");
  }
  out.reserve(out.size() + kImageHeaderSize + expected);
  ByteWriter w(out);
  w.u16(1);
  w.u8(img.components);
  w.u8(static_cast<uint8_t>(img.scalar_type));
  w.u8(static_cast<uint8_t>(img.wire_endian));
  w.u8(static_cast<uint8_t>(g.coordinates));
  for (int a = 0; a < 3; ++a) w.u16(static_cast<uint16_t>(g.size[a]));
  for (int a = 0; a < 3; ++a)
    for (int r = 0; r < 3; ++r) w.f32(static_cast<float>(g.direction[a][r] * g.spacing[a]));
  const Vec3 c = g.centre();
  for (int r = 0; r < 3; ++r) w.f32(static_cast<float>(c[r]));
  for (int a = 0; a < 3; ++a) w.u16(static_cast<uint16_t>(img.subvolume_offset[a]));
  for (int a = 0; a < 3; ++a) w.u16(static_cast<uint16_t>(sub[a]));
  const size_t at = out.size();
  w.bytes(img.pixels.data(), img.pixels.size());
  if (img.wire_endian != host_endian()) swap_scalars(out.data() + at, expected, ssize);
  return Status::Ok();
}

Result<ImageContent> decode_image_content(std::span<const uint8_t> content) {
  if (content.size() < kImageHeaderSize) {
    return data_loss("IMAGE content of " + std::to_string(content.size()) +
                     " bytes is shorter than the 72-byte image header");
  }
  ByteReader r(content);
  ImageContent img;
  uint16_t version = 0;
  uint8_t scalar = 0, endian = 0, coord = 0;
  uint16_t v16 = 0;
  float m[12];
  // The 72 header bytes are present (checked above), so these reads cannot fail.
  (void)r.u16(version);
  (void)r.u8(img.components);
  (void)r.u8(scalar);
  (void)r.u8(endian);
  (void)r.u8(coord);
  for (int a = 0; a < 3; ++a) {
    (void)r.u16(v16);
    img.geometry.size[a] = v16;
  }
  for (float& f : m) (void)r.f32(f);
  for (int a = 0; a < 3; ++a) {
    (void)r.u16(v16);
    img.subvolume_offset[a] = v16;
  }
  for (int a = 0; a < 3; ++a) {
    (void)r.u16(v16);
    img.subvolume_size[a] = v16;
  }
  if (version != 1 && version != 2) {
    return data_loss("IMAGE header version " + std::to_string(version) + " (expected 1)");
  }
  if (img.components < 1 || img.components > 4) {
    return data_loss("IMAGE components " + std::to_string(img.components) + " outside 1..4");
  }
  if (!is_valid_scalar_type(scalar)) {
    return data_loss("IMAGE scalar type " + std::to_string(scalar) + " is not defined");
  }
  img.scalar_type = static_cast<ScalarType>(scalar);
  if (endian != 1 && endian != 2) return data_loss("IMAGE endian " + std::to_string(endian));
  img.wire_endian = static_cast<Endian>(endian);
  if (coord != 1 && coord != 2) {
    return data_loss("IMAGE coordinate system " + std::to_string(coord) + " (1 RAS, 2 LPS)");
  }
  img.geometry.coordinates = static_cast<CoordinateSystem>(coord);
  for (int a = 0; a < 3; ++a) {
    if (img.geometry.size[a] == 0) return data_loss("IMAGE size " + dims(img.geometry.size));
    if (img.subvolume_size[a] == 0 ||
        img.subvolume_offset[a] + img.subvolume_size[a] > img.geometry.size[a]) {
      return data_loss("IMAGE sub-volume " + dims(img.subvolume_size) + " at " +
                       dims(img.subvolume_offset) + " does not fit in " +
                       dims(img.geometry.size));
    }
  }
  for (float f : m)
    if (!std::isfinite(f)) return data_loss("IMAGE matrix has a non-finite entry");
  for (int a = 0; a < 3; ++a) {
    const double x = m[3 * a], y = m[3 * a + 1], z = m[3 * a + 2];
    const double norm = std::sqrt(x * x + y * y + z * z);
    if (!(norm > 0)) return data_loss("IMAGE matrix axis " + std::to_string(a) + " has length 0");
    img.geometry.spacing[a] = norm;
    img.geometry.direction[a] = {x / norm, y / norm, z / norm};
  }
  img.geometry.set_centre({m[9], m[10], m[11]});

  const size_t ssize = scalar_size(img.scalar_type);
  const uint64_t expected = uint64_t{img.subvolume_size[0]} * img.subvolume_size[1] *
                            img.subvolume_size[2] * img.components * ssize;
  if (r.remaining() != expected) {
    return data_loss("IMAGE " + dims(img.subvolume_size) + " x" +
                     std::to_string(img.components) + " " + scalar_type_name(img.scalar_type) +
                     " needs " + std::to_string(expected) + " pixel bytes, body has " +
                     std::to_string(r.remaining()));
  }
  img.pixels.assign(r.cursor(), r.cursor() + expected);
  if (img.wire_endian != host_endian()) swap_scalars(img.pixels.data(), expected, ssize);
  return img;
}

}  // namespace um::igtl
