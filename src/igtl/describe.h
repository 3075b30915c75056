// File: src/igtl/describe.h
// Purpose: human-readable one-message summaries for tools and logs (igtl-dump, gateway debug).
// Usage: std::printf("%s\n", describe(message, body_size).c_str());
#pragma once

#include <cstdint>
#include <string>

#include "igtl/message.h"

namespace um::igtl {

// "2026-11-27T01:40:05.312500Z" (UTC, microseconds) for a 32.32 timestamp; "0" for 0.
std::string format_timestamp(uint64_t timestamp);
// First line: type, device, header version, body size, timestamp; then indented content
// details (image size/type/spacing/origin/direction, status, string, matrix) and metadata.
std::string describe(const Message& message, uint64_t body_size);

}  // namespace um::igtl
