// Round trips and checks for the OpenIGTLink codec: CRC-64 vectors, header and timestamps,
// every IMAGE scalar type / component count / endian, sub-volumes, geometry (centre origin),
// STATUS, STRING, TRANSFORM (column-major), metadata, header version 1 vs 2.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "igtl/byte_io.h"
#include "igtl/codec.h"
#include "igtl/crc64.h"
#include "igtl/metadata.h"

namespace um::igtl {
namespace {

TEST(Crc64, KnownVectors) {
  // CRC-64/ECMA-182 (non-reflected, init 0, no xorout) check value for "123456789".
  const char* s = "123456789";
  EXPECT_EQ(crc64(reinterpret_cast<const uint8_t*>(s), 9), 0x6C40DF5F0B497347ULL);
  EXPECT_EQ(crc64(nullptr, 0), 0u);
  // Chaining equals one pass, for every split point around the 8-byte fast path.
  std::vector<uint8_t> v(37);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 31 + 7);
  const uint64_t whole = crc64(v.data(), v.size());
  for (size_t k = 0; k <= v.size(); ++k)
    EXPECT_EQ(crc64(v.data() + k, v.size() - k, crc64(v.data(), k)), whole) << k;
}

TEST(Timestamp, BinaryFractionRoundTrip) {
  // 0.5 s is 0x80000000 in the binary fraction (not 500000000).
  EXPECT_EQ(timestamp_from_ns(1'700'000'000'500'000'000LL), (1700000000ULL << 32) | 0x80000000u);
  EXPECT_EQ(timestamp_to_ns((10ULL << 32) | 0x40000000u), 10'250'000'000LL);
  for (int64_t ns : {0LL, 1LL, 999'999'999LL, 1'234'567'891'011'121'314LL}) {
    EXPECT_NEAR(static_cast<double>(timestamp_to_ns(timestamp_from_ns(ns))),
                static_cast<double>(ns), 1.0);
  }
  EXPECT_DOUBLE_EQ(timestamp_to_seconds((3ULL << 32) | 0x80000000u), 3.5);
}

TEST(Header, RoundTripAndValidation) {
  Header h;
  h.version = 2;
  h.type = "IMAGE";
  h.device_name = "Image_Reference";
  h.timestamp = 0x0102030405060708ULL;
  h.body_size = 123456;
  h.crc = 0xdeadbeefcafef00dULL;
  uint8_t buf[kHeaderSize];
  encode_header(h, buf);
  EXPECT_EQ(load_be16(buf), 2);
  EXPECT_EQ(std::memcmp(buf + 2, "IMAGE\0\0\0\0\0\0\0", 12), 0);
  auto d = decode_header({buf, kHeaderSize});
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->type, "IMAGE");
  EXPECT_EQ(d->device_name, "Image_Reference");
  EXPECT_EQ(d->timestamp, h.timestamp);
  EXPECT_EQ(d->body_size, h.body_size);
  EXPECT_EQ(d->crc, h.crc);
  EXPECT_FALSE(decode_header({buf, 57}).ok());
  buf[1] = 3;
  EXPECT_EQ(decode_header({buf, kHeaderSize}).status().code(), um::StatusCode::kDataLoss);
}

ImageGeometry oblique_geometry(std::array<uint32_t, 3> size) {
  ImageGeometry g;
  g.size = size;
  g.spacing = {0.3, 0.45, 2.0};
  const double c = std::cos(0.5), s = std::sin(0.5);
  g.direction = {Vec3{c, s, 0}, Vec3{-s, c, 0}, Vec3{0, 0, 1}};
  g.origin = {10.5, -20.25, 5.0};
  g.coordinates = CoordinateSystem::kLPS;
  return g;
}

void expect_geometry_near(const ImageGeometry& a, const ImageGeometry& b) {
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.coordinates, b.coordinates);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.spacing[i], b.spacing[i], 1e-6);
    EXPECT_NEAR(a.origin[i], b.origin[i], 1e-4);
    for (int r = 0; r < 3; ++r) EXPECT_NEAR(a.direction[i][r], b.direction[i][r], 1e-6);
  }
}

TEST(Geometry, OriginIsFirstVoxelAndWireCarriesCentre) {
  ImageGeometry g;
  g.size = {11, 5, 1};
  g.spacing = {2.0, 3.0, 1.0};
  g.origin = {1.0, 1.0, 1.0};
  // centre = origin + (size-1)/2 * spacing along each axis (pyigtl / Slicer convention).
  Vec3 c = g.centre();
  EXPECT_DOUBLE_EQ(c[0], 11.0);
  EXPECT_DOUBLE_EQ(c[1], 7.0);
  EXPECT_DOUBLE_EQ(c[2], 1.0);
  ImageGeometry h = g;
  h.set_centre(c);
  EXPECT_EQ(h.origin, g.origin);

  Message m = make_image_message("I", g, ScalarType::kUint8, 1, std::vector<uint8_t>(55, 1));
  m.header_version = 1;
  auto wire = encode(m);
  ASSERT_TRUE(wire.ok());
  ByteReader r({wire->data() + kHeaderSize + 12 + 36, 12});  // matrix column 4 = centre
  float f[3];
  for (float& x : f) ASSERT_TRUE(r.f32(x));
  EXPECT_FLOAT_EQ(f[0], 11.0f);
  EXPECT_FLOAT_EQ(f[1], 7.0f);
}

struct ImageCase {
  ScalarType type;
  uint8_t components;
  Endian endian;
};

class ImageRoundTrip : public ::testing::TestWithParam<ImageCase> {};

TEST_P(ImageRoundTrip, PixelsAndGeometryUnchanged) {
  const ImageCase p = GetParam();
  const ImageGeometry g = oblique_geometry({7, 5, 3});
  const size_t bytes = g.voxel_count() * p.components * scalar_size(p.type);
  std::vector<uint8_t> pixels(bytes);
  for (size_t i = 0; i < bytes; ++i) pixels[i] = static_cast<uint8_t>(i * 13 + 1);
  for (uint16_t version : {1, 2}) {
    Message m = make_image_message("Image_Reference", g, p.type, p.components, pixels,
                                   1'700'000'000'123'456'789LL);
    std::get<ImageContent>(m.content).wire_endian = p.endian;
    m.header_version = version;
    m.message_id = 99;
    m.metadata = {{"FrameId", "17"}, {"State", "VISIBLE"}};
    auto wire = encode(m);
    ASSERT_TRUE(wire.ok()) << wire.status().to_string();
    auto d = decode(*wire);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(d->header_version, version);
    EXPECT_EQ(d->device_name, "Image_Reference");
    EXPECT_EQ(d->timestamp, m.timestamp);
    const auto& img = std::get<ImageContent>(d->content);
    EXPECT_EQ(img.scalar_type, p.type);
    EXPECT_EQ(img.components, p.components);
    EXPECT_EQ(img.wire_endian, p.endian);
    EXPECT_EQ(img.pixels, pixels);
    expect_geometry_near(img.geometry, g);
    if (version == 2) {
      EXPECT_EQ(d->message_id, 99u);
      ASSERT_EQ(d->metadata.size(), 2u);
      EXPECT_EQ(*d->find_metadata("State"), "VISIBLE");
    } else {
      EXPECT_TRUE(d->metadata.empty());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, ImageRoundTrip,
    ::testing::Values(ImageCase{ScalarType::kInt8, 1, Endian::kLittle},
                      ImageCase{ScalarType::kUint8, 1, Endian::kBig},
                      ImageCase{ScalarType::kUint8, 3, Endian::kLittle},
                      ImageCase{ScalarType::kInt16, 2, Endian::kBig},
                      ImageCase{ScalarType::kUint16, 1, Endian::kLittle},
                      ImageCase{ScalarType::kInt32, 4, Endian::kBig},
                      ImageCase{ScalarType::kUint32, 1, Endian::kLittle},
                      ImageCase{ScalarType::kFloat32, 1, Endian::kBig},
                      ImageCase{ScalarType::kFloat32, 4, Endian::kLittle},
                      ImageCase{ScalarType::kFloat64, 1, Endian::kBig}));

TEST(Image, BigEndianPixelsAreSwappedOnTheWire) {
  ImageGeometry g;
  g.size = {2, 1, 1};
  std::vector<uint8_t> px(4);
  const uint16_t v[2] = {0x0102, 0x0304};
  std::memcpy(px.data(), v, 4);
  Message m = make_image_message("I", g, ScalarType::kUint16, 1, px);
  std::get<ImageContent>(m.content).wire_endian = Endian::kBig;
  m.header_version = 1;
  auto wire = encode(m);
  ASSERT_TRUE(wire.ok());
  const uint8_t* pix = wire->data() + kHeaderSize + 72;
  EXPECT_EQ(pix[0], 0x01);
  EXPECT_EQ(pix[1], 0x02);
  EXPECT_EQ(pix[3], 0x04);
}

TEST(Image, SubVolumeRoundTrip) {
  ImageGeometry g = oblique_geometry({8, 6, 2});
  ImageContent img;
  img.geometry = g;
  img.subvolume_offset = {2, 1, 1};
  img.subvolume_size = {4, 3, 1};
  img.pixels.assign(12, 9);
  Message m;
  m.type = "IMAGE";
  m.device_name = "Sub";
  m.content = img;
  auto wire = encode(m);
  ASSERT_TRUE(wire.ok()) << wire.status().to_string();
  auto d = decode(*wire);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  const auto& out = std::get<ImageContent>(d->content);
  EXPECT_EQ(out.subvolume_offset, img.subvolume_offset);
  EXPECT_EQ(out.subvolume_size, img.subvolume_size);
  EXPECT_EQ(out.pixels, img.pixels);
  expect_geometry_near(out.geometry, g);
}

TEST(Image, EncodeRefusesInconsistentContent) {
  ImageGeometry g;
  g.size = {4, 4, 1};
  EXPECT_EQ(encode(make_image_message("I", g, ScalarType::kUint8, 1, std::vector<uint8_t>(15)))
                .status().code(), um::StatusCode::kInvalidArgument);
  EXPECT_FALSE(encode(make_image_message("I", g, ScalarType::kUint8, 5, std::vector<uint8_t>(80)))
                   .ok());
  g.spacing[1] = 0;
  EXPECT_FALSE(encode(make_image_message("I", g, ScalarType::kUint8, 1, std::vector<uint8_t>(16)))
                   .ok());
  g.spacing[1] = 1;
  g.size[0] = 70000;
  EXPECT_FALSE(encode(make_image_message("I", g, ScalarType::kUint8, 1, {})).ok());
  EXPECT_FALSE(encode(make_status_message("a_device_name_longer_than_20", 1, "x")).ok());
}

TEST(Status, RoundTrip) {
  Message m = make_status_message("UltraMotion", 13, "model loading", "NotReady", -5);
  auto d = decode(*encode(m));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  const auto& s = std::get<StatusContent>(d->content);
  EXPECT_EQ(s.code, 13);
  EXPECT_EQ(s.subcode, -5);
  EXPECT_EQ(s.error_name, "NotReady");
  EXPECT_EQ(s.message, "model loading");
}

TEST(String, RoundTrip) {
  Message m = make_string_message("Text", "hello, Slicer");
  m.header_version = 1;
  auto d = decode(*encode(m));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(std::get<StringContent>(d->content).text, "hello, Slicer");
  EXPECT_EQ(std::get<StringContent>(d->content).encoding, kEncodingUsAscii);
  EXPECT_FALSE(encode(make_string_message("T", std::string(70000, 'x'))).ok());
}

TEST(Transform, ColumnMajorOnTheWire) {
  TransformContent t;
  t.matrix = {{{1, 2, 3, 10}, {4, 5, 6, 20}, {7, 8, 9, 30}, {0, 0, 0, 1}}};
  Message m = make_transform_message("ProbeToReference", t);
  m.header_version = 1;
  auto wire = encode(m);
  ASSERT_TRUE(wire.ok());
  ByteReader r({wire->data() + kHeaderSize, 48});
  float f[12];
  for (float& x : f) ASSERT_TRUE(r.f32(x));
  const float expect[12] = {1, 4, 7, 2, 5, 8, 3, 6, 9, 10, 20, 30};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(f[i], expect[i]) << i;
  auto d = decode(*wire);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(std::get<TransformContent>(d->content).matrix, t.matrix);
}

TEST(Query, PrefixesAndRawBodies) {
  EXPECT_EQ(split_query("GET_IMAGE").prefix, "GET_");
  EXPECT_EQ(split_query("GET_IMAGE").base, "IMAGE");
  EXPECT_EQ(split_query("STT_TDATA").prefix, "STT_");
  EXPECT_EQ(split_query("STP_TDATA").base, "TDATA");
  EXPECT_EQ(split_query("IMAGE").prefix, "");
  Message q = make_query_message("GET_", "STATUS", "UltraMotion");
  auto wire = encode(q);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire->size(), kHeaderSize + 12 + 2);  // extended header + empty metadata count
  auto d = decode(*wire);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, "GET_STATUS");
  EXPECT_TRUE(std::get<RawContent>(d->content).bytes.empty());
}

TEST(Metadata, ReadsExtendedHeaderSizeInsteadOfAssuming12) {
  // A sender with a 16-byte extended header (4 future bytes) must still decode.
  std::vector<uint8_t> body;
  ByteWriter w(body);
  w.u16(16);
  w.u16(2 + 8);
  w.u32(3 + 2);
  w.u32(5);
  w.u32(0xffffffff);  // unknown extension bytes
  std::vector<uint8_t> content;
  encode_string_content({kEncodingUsAscii, "abc"}, content).ignore_error();
  w.bytes(content.data(), content.size());
  w.u16(1);
  w.u16(3);
  w.u16(kEncodingUsAscii);
  w.u32(2);
  w.bytes("keyva", 5);
  Header h;
  h.version = 2;
  h.type = "STRING";
  h.body_size = body.size();
  h.crc = crc64(body.data(), body.size());
  auto d = decode_body(h, body);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->message_id, 5u);
  EXPECT_EQ(std::get<StringContent>(d->content).text, "abc");
  ASSERT_EQ(d->metadata.size(), 1u);
  EXPECT_EQ(d->metadata[0].key, "key");
  EXPECT_EQ(d->metadata[0].value, "va");
}

TEST(Decode, CrcCheckIsConfigurable) {
  auto wire = *encode(make_string_message("T", "x"));
  wire[kHeaderSize + 12 + 4] ^= 0x01;  // the text byte: "x" -> "y", structure intact
  RejectReason why = RejectReason::kCount;
  EXPECT_FALSE(decode(wire, {}, &why).ok());
  EXPECT_EQ(why, RejectReason::kBadCrc);
  DecodeOptions no_crc;
  no_crc.check_crc = false;
  auto d = decode(wire, no_crc);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(std::get<StringContent>(d->content).text, "y");
}

}  // namespace
}  // namespace um::igtl
