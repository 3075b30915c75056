// File: src/core/clock.h
// Purpose: the two clocks the gateway needs. Latencies use the monotonic clock (never jumps);
// protocol timestamps use the UTC wall clock (OpenIGTLink carries seconds since the Unix epoch).
#pragma once

#include <cstdint>

namespace um {

// Monotonic nanoseconds (steady_clock): for durations and ages within this process.
int64_t monotonic_ns();
// UTC wall clock in nanoseconds since the Unix epoch: for timestamps that cross machines.
int64_t wall_clock_ns();

inline double ns_to_ms(int64_t ns) { return static_cast<double>(ns) * 1e-6; }

}  // namespace um
