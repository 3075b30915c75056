// File: src/gateway/igtl_convert.h
// Purpose: the two conversions at the gateway's edges: a received OpenIGTLink IMAGE becomes a
// pipeline::Frame (RX), and a FrameResult becomes the messages sent to 3D Slicer (TX): the
// `BoneMask` uint8 labelmap with the SOURCE frame's spacing, direction, centre and timestamp plus
// metadata, the optional weight maps, and a STATUS on state changes.
//
// Metadata keys of BoneMask (US-ASCII values; Slicer shows them as node attributes because it
// ignores header timestamps). Times are UTC seconds since the Unix epoch with 6 decimals:
//   FrameId, SourceDevice, SourceTimestamp (the PLUS acquisition time), ReceiveTime,
//   InferenceStart, InferenceEnd, InferenceMs, SendTime, State (VISIBLE|RELOCALIZING|LOST),
//   Detected (0|1), Score, Box ("x0 y0 x1 y1" in frame pixels), MaskArea, Quality,
//   LabelValue, Weights ("trained" or "SYNTHETIC ..." when seeded synthetic weights are in use).
//
// Usage:
//   Result<pipeline::Frame> f = frame_from_image_message(msg);   // id/receive time set by caller
//   std::vector<igtl::Message> out = build_tx_messages(item, tx_options, now_mono_ns);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "gateway/config.h"
#include "igtl/message.h"
#include "pipeline/frame.h"

namespace um::gateway {

// igtl's geometry (origin = voxel (0,0,0)) <-> the pipeline's (origin = image centre).
pipeline::ImageGeometry from_igtl_geometry(const igtl::ImageGeometry& g);
igtl::ImageGeometry to_igtl_geometry(const pipeline::ImageGeometry& g, int width, int height);

// An IMAGE message as a gray Frame: uint8 with 1 component (gray), 3 or 4 components (RGB(A)-
// encoded gray, converted by ITU-R 601 luma like io::to_gray), one slice, the whole image.
// Sets pixels, size, geometry, device name and source timestamp; the caller sets id and
// receive_time_ns. Errors: kInvalidArgument (not IMAGE, unsupported scalar type/components,
// a volume or a sub-volume), kOutOfRange (a side outside 128..2048).
Result<pipeline::Frame> frame_from_image_message(const igtl::Message& message);

// A gray Frame as an IMAGE message (the simulator's and the recorder's direction).
igtl::Message frame_to_image_message(const pipeline::Frame& frame, uint16_t header_version);

// What the processing stage hands to TX for one frame.
struct OutputItem {
  pipeline::Frame frame;  // pixels cleared (TX needs geometry and times only)
  pipeline::FrameResult result;
  int64_t enqueued_ns = 0;  // monotonic, when it entered the outbox
};

struct TxOptions {
  std::string device = "BoneMask";
  int label_value = 1;
  SlicerOutputs outputs;
  std::string weights_note = "trained";  // metadata "Weights"
  std::string synthetic_weights = "none";  // metadata "SyntheticWeights": "dfine,sam", "sam", ...
  std::string status_device = "UltraMotion";
  // wall_clock_ns() - monotonic_ns() at start: turns monotonic stage times into UTC for metadata.
  int64_t wall_minus_monotonic_ns = 0;
};

// The messages for one result, in send order: BoneMask, then BoneMask_Wedge/_Win/_Wout when
// enabled, then STATUS when result.state_changed and STATUS output is on. `send_mono_ns` is the
// SendTime written into the metadata.
std::vector<igtl::Message> build_tx_messages(const OutputItem& item, const TxOptions& options,
                                             int64_t send_mono_ns);

// "VISIBLE" etc. as a STATUS message (code OK; error name = state; message says why).
igtl::Message make_state_status(const std::string& device, pipeline::VisibilityState state,
                                uint64_t frame_id);

}  // namespace um::gateway
