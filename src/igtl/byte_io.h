// File: src/igtl/byte_io.h
// Purpose: bounds-checked big-endian reads and writes for the OpenIGTLink codec.
// OpenIGTLink stores every numeric field big-endian (pixel data excepted: the IMAGE header says
// which endian its pixels use). ByteReader never reads past its span: each read returns false
// once the data runs out, so decoders check sizes before touching bytes and never crash on a
// short or lying body.
// Usage:
//   ByteReader r(body);  uint16_t v;  if (!r.u16(v)) return data_loss("short body");
//   ByteWriter w(out);   w.u16(1);  w.bytes(p, n);
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace um::igtl {

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint64_t load_be64(const uint8_t* p) {
  return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline void store_be64(uint8_t* p, uint64_t v) {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

// Reads big-endian fields from a span; every call checks the remaining length first.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  const uint8_t* cursor() const { return data_.data() + pos_; }

  bool u8(uint8_t& v) { return take(1, [&](const uint8_t* p) { v = p[0]; }); }
  bool u16(uint16_t& v) { return take(2, [&](const uint8_t* p) { v = load_be16(p); }); }
  bool u32(uint32_t& v) { return take(4, [&](const uint8_t* p) { v = load_be32(p); }); }
  bool u64(uint64_t& v) { return take(8, [&](const uint8_t* p) { v = load_be64(p); }); }
  bool i64(int64_t& v) {
    uint64_t u;
    if (!u64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool f32(float& v) {
    uint32_t u;
    if (!u32(u)) return false;
    v = std::bit_cast<float>(u);
    return true;
  }
  // A fixed-width, NUL-padded text field (type, device name): stops at the first NUL.
  bool fixed_string(size_t width, std::string& v) {
    return take(width, [&](const uint8_t* p) {
      size_t n = 0;
      while (n < width && p[n] != 0) ++n;
      v.assign(reinterpret_cast<const char*>(p), n);
    });
  }
  bool bytes(size_t n, std::span<const uint8_t>& v) {
    return take(n, [&](const uint8_t* p) { v = {p, n}; });
  }
  bool skip(size_t n) {
    return take(n, [](const uint8_t*) {});
  }

 private:
  template <typename F>
  bool take(size_t n, F&& f) {
    if (n > remaining()) return false;
    f(data_.data() + pos_);
    pos_ += n;
    return true;
  }
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Appends big-endian fields to a byte vector.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { store_be16(grow(2), v); }
  void u32(uint32_t v) { store_be32(grow(4), v); }
  void u64(uint64_t v) { store_be64(grow(8), v); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f32(float v) { u32(std::bit_cast<uint32_t>(v)); }
  // Writes `s` into a field of `width` bytes, NUL-padded (truncated if longer).
  void fixed_string(const std::string& s, size_t width) {
    uint8_t* p = grow(width);
    std::memset(p, 0, width);
    std::memcpy(p, s.data(), s.size() < width ? s.size() : width);
  }
  void bytes(const void* data, size_t n) {
    if (n) std::memcpy(grow(n), data, n);
  }
  size_t size() const { return out_.size(); }

 private:
  uint8_t* grow(size_t n) {
    size_t at = out_.size();
    out_.resize(at + n);
    return out_.data() + at;
  }
  std::vector<uint8_t>& out_;
};

}  // namespace um::igtl
