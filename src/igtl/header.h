// File: src/igtl/header.h
// Purpose: the fixed 58-byte OpenIGTLink header and the protocol's 32.32 timestamps.
// Layout (big-endian): version u16, type char[12], device name char[20], timestamp u64,
// body size u64, CRC-64 u64. Header version 1 = protocol 1/2; version 2 = protocol 3 (the body
// then starts with an extended header and ends with metadata, see metadata.h).
// Timestamps: upper 32 bits are seconds since the Unix epoch (UTC); the lower 32 bits are a
// BINARY fraction of a second (frac / 2^32), not nanoseconds.
// Usage:
//   Header h; h.type = "IMAGE"; ...; encode_header(h, out58);
//   Result<Header> h = decode_header(bytes58);   // validates version and the text fields
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace um::igtl {

inline constexpr size_t kHeaderSize = 58;
inline constexpr size_t kTypeSize = 12;
inline constexpr size_t kDeviceNameSize = 20;

struct Header {
  uint16_t version = 1;        // header version: 1 or 2
  std::string type;            // e.g. "IMAGE", "GET_STATUS" (at most 12 characters)
  std::string device_name;     // e.g. "Image_Reference" (at most 20 characters)
  uint64_t timestamp = 0;      // 32.32 fixed point, see timestamp_to_ns()
  uint64_t body_size = 0;
  uint64_t crc = 0;
};

// Writes exactly kHeaderSize bytes to `out`. Text longer than its field is truncated.
void encode_header(const Header& header, uint8_t* out);
// Parses kHeaderSize bytes. Rejects (kDataLoss) a version other than 1 or 2 and type/device
// fields with bytes outside printable ASCII: both mean the stream lost its framing.
Result<Header> decode_header(std::span<const uint8_t> bytes);

// Unix-epoch nanoseconds <-> 32.32 timestamps. The fraction is rounded to the nearest 1/2^32 s
// on the way in, so ns -> igtl -> ns round-trips within 1 ns.
uint64_t timestamp_from_ns(int64_t unix_ns);
int64_t timestamp_to_ns(uint64_t timestamp);
inline double timestamp_to_seconds(uint64_t timestamp) {
  return static_cast<double>(timestamp >> 32) +
         static_cast<double>(timestamp & 0xffffffffu) / 4294967296.0;
}

}  // namespace um::igtl
