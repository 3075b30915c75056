// File: src/igtl/crc64.h
// Purpose: the CRC-64 that OpenIGTLink puts in every header: ECMA-182 polynomial
// 0x42F0E1EBA9EA3693, MSB-first, init 0, no reflection, no final xor, over the whole body.
// Hand-written (slice-by-8 tables) because no Debian library exposes this exact non-reflected
// variant except libOpenIGTLink itself, which is our independent test peer, not our codec.
// Usage: uint64_t c = crc64(body.data(), body.size());  // or chained: crc64(p2, n2, crc64(p1, n1))
#pragma once

#include <cstddef>
#include <cstdint>

namespace um::igtl {

// `crc` continues a previous call's result, so a body can be hashed in pieces.
uint64_t crc64(const uint8_t* data, size_t size, uint64_t crc = 0);

}  // namespace um::igtl
