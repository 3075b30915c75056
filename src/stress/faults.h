// File: src/stress/faults.h
// Purpose: the faults `ultramotion stress --faults` injects, in rotation, one at a time:
//   simulator_restart   the PLUS simulator of a stream stops and, after a pause, starts again on
//                       the same port (the gateway's PLUS client must reconnect by itself);
//   receiver_reconnect  a Slicer receiver disconnects and reconnects after a pause;
//   bad_crc             an IMAGE whose CRC-64 does not match its body (the gateway drops it and
//                       keeps the connection);
//   bad_header          58 header bytes with an impossible version (framing lost: the gateway
//                       closes and reconnects);
//   truncated_body      an IMAGE header followed by only half its body (the next frame's bytes
//                       complete the "body": CRC mismatch, then lost framing);
//   absurd_size         a header announcing a 1 TiB body (refused unread; the gateway closes).
// Malformed bytes go out through PlusSimulator::inject_raw. After each fault the run waits for
// a labelmap of a frame acquired AFTER the fault on that stream: that is "recovered".
//
// Usage:
//   std::vector<uint8_t> bytes = malformed_bytes(FaultKind::kBadCrc, "Image_Reference");
//   sim.inject_raw(bytes);
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace um::stress {

// In rotation order: the peer faults and the commonest corruption first, so a short run on a
// slow machine still covers them.
enum class FaultKind {
  kSimulatorRestart,
  kBadCrc,
  kReceiverReconnect,
  kBadHeader,
  kAbsurdSize,
  kTruncatedBody,
  kCount,
};
const char* fault_kind_name(FaultKind k);
bool is_malformed_fault(FaultKind k);
// The k-th fault of a run (rotation through every kind).
FaultKind fault_in_rotation(size_t k);

// The bytes of a malformed OpenIGTLink message of that kind (header version 1, as PLUS sends
// before a client switches); device names the IMAGE. Empty for the non-byte faults.
std::vector<uint8_t> malformed_bytes(FaultKind kind, const std::string& device);

struct FaultRecord {
  double t_s = 0.0;          // when injected, seconds since the run's time zero
  FaultKind kind = FaultKind::kBadCrc;
  int stream = 0;            // index into the run's streams
  bool recovered = false;    // fresh labelmap on that stream afterwards, within the timeout
  double recovery_s = 0.0;   // injection -> first labelmap of a frame acquired after it
  std::map<std::string, uint64_t> new_drops;  // "stage/reason" -> drops counted meanwhile
};

}  // namespace um::stress
