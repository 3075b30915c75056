// CRC-64/ECMA-182 as OpenIGTLink uses it (MSB-first, init 0, no xorout). Slice-by-8: eight
// 256-entry tables let one loop iteration consume 8 bytes, about 5x the byte-at-a-time speed,
// which matters at 25 fps x 235 KB frames on both the receive and the send path.
#include "igtl/crc64.h"

#include <array>

namespace um::igtl {
namespace {

constexpr uint64_t kPoly = 0x42F0E1EBA9EA3693ULL;

using Tables = std::array<std::array<uint64_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables t{};
  for (uint64_t b = 0; b < 256; ++b) {
    uint64_t c = b << 56;
    for (int k = 0; k < 8; ++k) c = (c & (1ULL << 63)) ? (c << 1) ^ kPoly : (c << 1);
    t[0][b] = c;
  }
  // t[k][b]: the CRC contribution of byte b followed by k zero bytes.
  for (int k = 1; k < 8; ++k)
    for (int b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] << 8) ^ t[0][t[k - 1][b] >> 56];
  return t;
}

constexpr Tables kTables = make_tables();

}  // namespace

uint64_t crc64(const uint8_t* data, size_t size, uint64_t crc) {
  const uint8_t* p = data;
  while (size >= 8) {
    // Big-endian load of the next 8 bytes, xored with the running CRC (MSB-first variant).
    uint64_t x = crc;
    for (int i = 0; i < 8; ++i) x ^= uint64_t{p[i]} << (56 - 8 * i);
    crc = kTables[7][x >> 56] ^ kTables[6][(x >> 48) & 0xff] ^ kTables[5][(x >> 40) & 0xff] ^
          kTables[4][(x >> 32) & 0xff] ^ kTables[3][(x >> 24) & 0xff] ^
          kTables[2][(x >> 16) & 0xff] ^ kTables[1][(x >> 8) & 0xff] ^ kTables[0][x & 0xff];
    p += 8;
    size -= 8;
  }
  while (size--) crc = (crc << 8) ^ kTables[0][((crc >> 56) ^ *p++) & 0xff];
  return crc;
}

}  // namespace um::igtl
