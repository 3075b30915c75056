// Fault kinds and malformed OpenIGTLink bytes (faults.h).
#include "stress/faults.h"

#include "core/clock.h"
#include "igtl/codec.h"
#include "igtl/header.h"
#include "igtl/message.h"

namespace um::stress {
namespace {

// Header field offsets (SPEC §2): version 0, type 2, device 14, timestamp 34, body size 42,
// CRC 50; big-endian.
constexpr size_t kBodySizeOffset = 42;
constexpr size_t kCrcOffset = 50;

void put_u64_be(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

// A small, valid, version-1 IMAGE (128x128 gray) to corrupt.
std::vector<uint8_t> valid_image(const std::string& device) {
  igtl::ImageGeometry g;
  g.size = {128, 128, 1};
  std::vector<uint8_t> pixels(128 * 128);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  igtl::Message m = igtl::make_image_message(device, g, igtl::ScalarType::kUint8, 1,
                                             std::move(pixels), wall_clock_ns());
  m.header_version = 1;
  auto wire = igtl::encode(m);
  return wire.ok() ? std::move(wire).value() : std::vector<uint8_t>{};
}

}  // namespace

const char* fault_kind_name(FaultKind k) {
  switch (k) {
    case FaultKind::kBadCrc: return "bad_crc";
    case FaultKind::kSimulatorRestart: return "simulator_restart";
    case FaultKind::kBadHeader: return "bad_header";
    case FaultKind::kReceiverReconnect: return "receiver_reconnect";
    case FaultKind::kTruncatedBody: return "truncated_body";
    case FaultKind::kAbsurdSize: return "absurd_size";
    case FaultKind::kCount: break;
  }
  return "unknown";
}

bool is_malformed_fault(FaultKind k) {
  return k == FaultKind::kBadCrc || k == FaultKind::kBadHeader ||
         k == FaultKind::kTruncatedBody || k == FaultKind::kAbsurdSize;
}

FaultKind fault_in_rotation(size_t k) {
  return static_cast<FaultKind>(k % static_cast<size_t>(FaultKind::kCount));
}

std::vector<uint8_t> malformed_bytes(FaultKind kind, const std::string& device) {
  std::vector<uint8_t> b = valid_image(device);
  if (b.size() <= igtl::kHeaderSize) return {};
  switch (kind) {
    case FaultKind::kBadCrc:
      b[kCrcOffset + 7] ^= 0x5a;  // header says one CRC, the body has another
      return b;
    case FaultKind::kBadHeader:
      b.resize(igtl::kHeaderSize);
      b[0] = 0x7f;  // version 0x7f01: no OpenIGTLink peer speaks it
      b[1] = 0x01;
      return b;
    case FaultKind::kTruncatedBody:
      b.resize(igtl::kHeaderSize + (b.size() - igtl::kHeaderSize) / 2);
      return b;
    case FaultKind::kAbsurdSize:
      b.resize(igtl::kHeaderSize);
      put_u64_be(&b[kBodySizeOffset], 1ull << 40);
      return b;
    default:
      return {};
  }
}

}  // namespace um::stress
