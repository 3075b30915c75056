// File: src/igtl/message.h
// Purpose: the decoded OpenIGTLink messages every other module uses (the gateway reads frames
// from here and hands masks back in the same form). Pure data: encoding/decoding is codec.h.
//
// A Message is one header's worth of protocol: header fields, the header-version-2 extras
// (message id, metadata) and one content alternative:
//   ImageContent      "IMAGE"      pixels + ImageGeometry (size, spacing, direction, origin)
//   StatusContent     "STATUS"     code, subcode, error name, message
//   StringContent     "STRING"     encoding (IANA MIBenum, 3 = US-ASCII) + bytes
//   TransformContent  "TRANSFORM"  4x4 matrix (row-major here; column-major on the wire)
//   RawContent        everything else: GET_/STT_/STP_/RTS_ queries and unknown types, whose
//                     content bytes are kept undecoded (unknown types are framed by body size).
//
// Geometry convention (read this before using ImageGeometry): `origin` is the world position of
// the CENTRE of voxel (0,0,0), like ITK/VTK/Slicer's IJKToRAS. The wire format instead stores the
// image centre; the codec converts: centre = origin + sum_a direction[a]*spacing[a]*(size[a]-1)/2
// (the same rule pyigtl and Slicer's OpenIGTLinkIF use). `direction[a]` is the unit world vector
// of voxel axis a (0 = i = columns, 1 = j = rows, 2 = k = slices).
//
// Usage (gateway):
//   Message m = make_image_message("BoneMask", geometry, ScalarType::kUint8, 1, pixels, ts);
//   m.metadata.push_back({"FrameId", "42"});
//   if (auto* img = std::get_if<ImageContent>(&m.content)) use(img->geometry, img->pixels);
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace um::igtl {

// Scalar types of IMAGE voxels (wire codes).
enum class ScalarType : uint8_t {
  kInt8 = 2, kUint8 = 3, kInt16 = 4, kUint16 = 5, kInt32 = 6, kUint32 = 7,
  kFloat32 = 10, kFloat64 = 11,
};
// Bytes per scalar, 0 for a code that is not a ScalarType.
size_t scalar_size(ScalarType t);
const char* scalar_type_name(ScalarType t);
bool is_valid_scalar_type(uint8_t code);

enum class Endian : uint8_t { kBig = 1, kLittle = 2 };
enum class CoordinateSystem : uint8_t { kRAS = 1, kLPS = 2 };

using Vec3 = std::array<double, 3>;

struct ImageGeometry {
  std::array<uint32_t, 3> size{1, 1, 1};         // voxels along i, j, k (wire: u16 each)
  Vec3 spacing{1.0, 1.0, 1.0};                   // mm per voxel along i, j, k (> 0)
  std::array<Vec3, 3> direction{Vec3{1, 0, 0}, Vec3{0, 1, 0}, Vec3{0, 0, 1}};  // unit axes
  Vec3 origin{0.0, 0.0, 0.0};                    // world position of voxel (0,0,0)
  CoordinateSystem coordinates = CoordinateSystem::kRAS;

  // The wire's "origin": world position of the image centre.
  Vec3 centre() const;
  // Sets `origin` from a wire centre (inverse of centre()).
  void set_centre(const Vec3& centre);
  uint64_t voxel_count() const { return uint64_t{size[0]} * size[1] * size[2]; }
};

struct ImageContent {
  ImageGeometry geometry;
  ScalarType scalar_type = ScalarType::kUint8;
  uint8_t components = 1;                        // 1..4 (interleaved)
  // The sub-volume the pixels cover; by default the whole image. Offsets + sizes must fit in
  // geometry.size.
  std::array<uint32_t, 3> subvolume_offset{0, 0, 0};
  std::array<uint32_t, 3> subvolume_size{0, 0, 0};  // {0,0,0} on encode = whole image
  // Endian of the pixel bytes on the wire. Decoded pixels are always converted to host order;
  // on encode the pixels (host order) are written in this endian.
  Endian wire_endian = Endian::kLittle;
  // subvolume voxels x components x scalar_size bytes, i fastest, host byte order.
  std::vector<uint8_t> pixels;
};

// STATUS codes from the protocol (subset; any u16 is carried through).
enum class StatusMessageCode : uint16_t {
  kInvalid = 0, kOk = 1, kUnknownError = 2, kPanic = 3, kNotFound = 4, kAccessDenied = 5,
  kBusy = 6, kTimeOut = 7, kOverflow = 8, kChecksumError = 9, kConfigError = 10,
  kResourceError = 11, kIllegalInstruction = 12, kNotReady = 13, kManualMode = 14,
  kDisabled = 15, kNotPresent = 16, kUnknownVersion = 17, kHardwareFailure = 18,
  kShutdown = 19,
};

struct StatusContent {
  uint16_t code = 1;            // StatusMessageCode value
  int64_t subcode = 0;
  std::string error_name;       // at most 20 characters
  std::string message;          // sent NUL-terminated
};

inline constexpr uint16_t kEncodingUsAscii = 3;
inline constexpr uint16_t kEncodingUtf8 = 106;

struct StringContent {
  uint16_t encoding = kEncodingUsAscii;
  std::string text;             // at most 65535 bytes
};

struct TransformContent {
  // Row-major 4x4 homogeneous matrix; the last row is always {0,0,0,1} (not transmitted).
  std::array<std::array<float, 4>, 4> matrix{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0},
                                              {0, 0, 0, 1}}};
};

struct RawContent {
  std::vector<uint8_t> bytes;   // content part of the body (no extended header, no metadata)
};

using Content = std::variant<RawContent, ImageContent, StatusContent, StringContent,
                             TransformContent>;

struct MetadataEntry {
  std::string key;
  std::string value;
  uint16_t encoding = kEncodingUsAscii;
};
using Metadata = std::vector<MetadataEntry>;

struct Message {
  uint16_t header_version = 2;  // 1: no extended header/metadata; 2: protocol 3
  std::string type;             // "IMAGE", "STATUS", "GET_IMAGE", ...
  std::string device_name;
  uint64_t timestamp = 0;       // 32.32 (header.h: timestamp_from_ns / timestamp_to_ns)
  uint32_t message_id = 0;      // header version 2 only
  Metadata metadata;            // header version 2 only (dropped when encoding version 1)
  Content content;

  // Value of the first metadata entry named `key`, or nullptr.
  const std::string* find_metadata(const std::string& key) const;
};

// Query prefixes: GET_<T> (request, empty body), STT_<T> (start streaming), STP_<T> (stop),
// RTS_<T> (reply to STT_/STP_). split_query("GET_IMAGE") -> {"GET_", "IMAGE"}; no prefix -> {"", t}.
struct QueryType {
  std::string prefix;
  std::string base;
};
QueryType split_query(const std::string& type);

// Convenience constructors (timestamp is Unix-epoch nanoseconds; 0 = leave 0).
Message make_image_message(std::string device, const ImageGeometry& geometry, ScalarType type,
                           uint8_t components, std::vector<uint8_t> pixels, int64_t unix_ns = 0);
Message make_status_message(std::string device, uint16_t code, std::string text,
                            std::string error_name = "", int64_t subcode = 0);
Message make_string_message(std::string device, std::string text);
Message make_transform_message(std::string device, const TransformContent& transform);
// An empty-bodied query, e.g. make_query_message("GET_", "STATUS", "").
Message make_query_message(const std::string& prefix, const std::string& base,
                           std::string device);

}  // namespace um::igtl
