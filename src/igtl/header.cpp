#include "igtl/header.h"

#include "igtl/byte_io.h"

namespace um::igtl {
namespace {

// Printable ASCII only: a type or device name with control or high bytes is not a header at all
// (the reader lost sync), which is why decode_header refuses it rather than sanitising it.
bool printable(const std::string& s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

}  // namespace

void encode_header(const Header& h, uint8_t* out) {
  std::vector<uint8_t> buf;
  buf.reserve(kHeaderSize);
  ByteWriter w(buf);
  w.u16(h.version);
  w.fixed_string(h.type, kTypeSize);
  w.fixed_string(h.device_name, kDeviceNameSize);
  w.u64(h.timestamp);
  w.u64(h.body_size);
  w.u64(h.crc);
  std::memcpy(out, buf.data(), kHeaderSize);
}

Result<Header> decode_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) {
    return data_loss("header needs " + std::to_string(kHeaderSize) + " bytes, have " +
                     std::to_string(bytes.size()));
  }
  ByteReader r(bytes.first(kHeaderSize));
  Header h;
  // Sizes are fixed and checked above, so these reads cannot fail.
  (void)r.u16(h.version);
  (void)r.fixed_string(kTypeSize, h.type);
  (void)r.fixed_string(kDeviceNameSize, h.device_name);
  (void)r.u64(h.timestamp);
  (void)r.u64(h.body_size);
  (void)r.u64(h.crc);
  if (h.version != 1 && h.version != 2) {
    return data_loss("unsupported header version " + std::to_string(h.version));
  }
  if (h.type.empty() || !printable(h.type)) return data_loss("message type is not printable ASCII");
  if (!printable(h.device_name)) return data_loss("device name is not printable ASCII");
  return h;
}

uint64_t timestamp_from_ns(int64_t unix_ns) {
  if (unix_ns < 0) unix_ns = 0;
  uint64_t sec = static_cast<uint64_t>(unix_ns) / 1000000000ULL;
  uint64_t ns = static_cast<uint64_t>(unix_ns) % 1000000000ULL;
  // frac = round(ns * 2^32 / 1e9); ns < 1e9 so ns << 32 fits in 64 bits.
  uint64_t frac = ((ns << 32) + 500000000ULL) / 1000000000ULL;
  if (frac > 0xffffffffULL) {  // rounding up to a full second
    frac = 0;
    ++sec;
  }
  return (sec << 32) | frac;
}

int64_t timestamp_to_ns(uint64_t timestamp) {
  uint64_t sec = timestamp >> 32;
  uint64_t frac = timestamp & 0xffffffffULL;
  uint64_t ns = (frac * 1000000000ULL + (1ULL << 31)) >> 32;
  return static_cast<int64_t>(sec * 1000000000ULL + ns);
}

}  // namespace um::igtl
