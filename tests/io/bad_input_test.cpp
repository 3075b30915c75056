// Bad-input tests for src/io: every broken file is built inside the test, and each must give a
// Status (or um::Error from WeightSource) with a message naming the problem, never a crash.
// Labelled "asan": scripts/test.sh reruns this executable under AddressSanitizer + UBSan.
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <cstring>

#include "io/checkpoint.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "io_test_util.h"
#include "test_support.h"

namespace um::io {
namespace {

::testing::AssertionResult fails_with(const Status& s, StatusCode code, const std::string& needle) {
  if (s.ok()) return ::testing::AssertionFailure() << "unexpectedly OK";
  if (s.code() != code) {
    return ::testing::AssertionFailure() << "wrong code: " << s.to_string();
  }
  if (s.message().find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks '" << needle << "': " << s.to_string();
  }
  return ::testing::AssertionSuccess() << s.to_string();
}

// ---- images ----

std::vector<uint8_t> valid_png(const test::TempDir& dir) {
  Image img{40, 30, 1, std::vector<uint8_t>(40 * 30)};
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 31);
  const std::string p = dir.file("ok.png");
  EXPECT_TRUE(write_png(p, img).ok());
  return test::read_bytes(p);
}

TEST(BadImage, MissingFileIsNotFound) {
  EXPECT_TRUE(fails_with(read_image("/nonexistent/frame.png").status(), StatusCode::kNotFound,
                         "/nonexistent/frame.png"));
}

TEST(BadImage, GarbageAndEmptyFilesAreNotImages) {
  test::TempDir dir;
  test::write_text(dir.file("garbage.png"), "this is not an image at all");
  EXPECT_TRUE(fails_with(read_image(dir.file("garbage.png")).status(),
                         StatusCode::kInvalidArgument, "not a PNG or JPEG"));
  test::write_text(dir.file("empty.png"), "");
  EXPECT_TRUE(fails_with(read_image(dir.file("empty.png")).status(), StatusCode::kInvalidArgument,
                         "empty file"));
}

TEST(BadImage, TruncatedPngIsDataLoss) {
  test::TempDir dir;
  std::vector<uint8_t> png = valid_png(dir);
  for (size_t keep : {size_t{8}, size_t{20}, size_t{40}, png.size() / 2, png.size() - 13}) {
    SCOPED_TRACE(keep);
    std::vector<uint8_t> cut(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(keep));
    test::write_bytes(dir.file("cut.png"), cut);
    EXPECT_TRUE(fails_with(read_image(dir.file("cut.png")).status(), StatusCode::kDataLoss,
                           "corrupt PNG"));
  }
}

TEST(BadImage, CorruptPngChunkIsDataLoss) {
  test::TempDir dir;
  std::vector<uint8_t> png = valid_png(dir);
  png[20] ^= 0xFF;  // inside IHDR: its CRC no longer matches
  test::write_bytes(dir.file("crc.png"), png);
  EXPECT_TRUE(fails_with(read_image(dir.file("crc.png")).status(), StatusCode::kDataLoss, "CRC"));
}

TEST(BadImage, TruncatedJpegIsDataLoss) {
  test::TempDir dir;
  // SOI followed by junk: a JPEG by magic, but no decodable header.
  test::write_bytes(dir.file("bad.jpg"), {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F'});
  EXPECT_TRUE(fails_with(read_image(dir.file("bad.jpg")).status(), StatusCode::kDataLoss,
                         "corrupt JPEG"));
  // A real JPEG cut in the middle of its entropy-coded data.
  const int w = 64, h = 64;
  std::vector<uint8_t> src(w * h);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>((i * 7) ^ (i >> 3));
  tjhandle tj = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long jsize = 0;
  ASSERT_EQ(tjCompress2(tj, src.data(), w, 0, h, TJPF_GRAY, &jpeg, &jsize, TJSAMP_GRAY, 90, 0), 0);
  std::vector<uint8_t> cut(jpeg, jpeg + jsize / 2);
  tjFree(jpeg);
  tjDestroy(tj);
  test::write_bytes(dir.file("cut.jpg"), cut);
  EXPECT_TRUE(fails_with(read_image(dir.file("cut.jpg")).status(), StatusCode::kDataLoss,
                         "corrupt JPEG"));
}

TEST(BadImage, WritePngRejectsInconsistentImage) {
  test::TempDir dir;
  Image img{4, 4, 3, std::vector<uint8_t>(10)};
  EXPECT_TRUE(fails_with(write_png(dir.file("x.png"), img), StatusCode::kInvalidArgument,
                         "10 bytes of pixels"));
}

// ---- safetensors ----

std::vector<uint8_t> safetensors_bytes(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

TEST(BadSafetensors, HeaderAndOffsetsAreValidated) {
  test::TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  struct Case {
    std::vector<uint8_t> bytes;
    StatusCode code;
    const char* needle;
  } cases[] = {
      {{1, 2, 3}, StatusCode::kDataLoss, "header length"},
      {safetensors_bytes("{\"a\":", 0), StatusCode::kDataLoss, "not valid JSON"},
      {safetensors_bytes("[1,2]", 0), StatusCode::kDataLoss, "not a JSON object"},
      {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 8),
       StatusCode::kDataLoss, "'w'"},
      {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 16),
       StatusCode::kDataLoss, "do not hold 16 bytes"},
      {safetensors_bytes(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8),
       StatusCode::kInvalidArgument, "F64"},
      {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
       StatusCode::kDataLoss, "shape"},
      {safetensors_bytes(
           R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})", 4),
       StatusCode::kDataLoss, "impossible shape"},
  };
  for (const auto& c : cases) {
    test::write_bytes(p, c.bytes);
    EXPECT_TRUE(fails_with(read_safetensors(p).status(), c.code, c.needle));
  }
  // A header length larger than the file.
  auto big = safetensors_bytes("{}", 0);
  big[0] = 0xFF;
  test::write_bytes(p, big);
  EXPECT_TRUE(fails_with(read_safetensors(p).status(), StatusCode::kDataLoss, "JSON header"));
}

}  // namespace
}  // namespace um::io
