// File: src/monitor/frame_png.h
// Purpose: the dashboard's picture of the latest frame: the gray frame with the mask tinted
// (semi-transparent red) and its outline and the detector box drawn (green), encoded as PNG in
// memory with libpng. (src/io/image.h writes PNG files; the dashboard needs bytes, and this is
// display-only compositing, so it lives here.)
// Usage: Result<std::string> png = render_frame_png(frame);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "monitor/monitor.h"

namespace um::monitor {

// 8-bit RGB (interleaved, row-major, width*height*3) or gray (channels 1) to PNG bytes.
// kInvalidArgument for bad sizes; kInternal if libpng fails.
Result<std::string> encode_png(int width, int height, int channels,
                               const std::vector<uint8_t>& pixels);

// Composes the overlay (RGB) of a DisplayFrame and encodes it.
Result<std::string> render_frame_png(const DisplayFrame& frame);

}  // namespace um::monitor
