// Tests for src/io/image: PNG of every colour type and depth, JPEG, write/read round trips,
// to_gray, and the reference frames. Unusual PNGs are assembled byte by byte (zlib + CRC) so
// the test needs no image tool.
#include "io/image.h"

#include <gtest/gtest.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <cstring>

#include "io/safetensors.h"
#include "io_test_util.h"
#include "test_support.h"

namespace um::io {
namespace {

void put_u32be(std::vector<uint8_t>* out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<uint8_t>(v >> s));
}
void put_chunk(std::vector<uint8_t>* out, const char* type, const std::vector<uint8_t>& body) {
  put_u32be(out, static_cast<uint32_t>(body.size()));
  std::vector<uint8_t> tb(type, type + 4);
  tb.insert(tb.end(), body.begin(), body.end());
  out->insert(out->end(), tb.begin(), tb.end());
  put_u32be(out, static_cast<uint32_t>(crc32(0, tb.data(), static_cast<uInt>(tb.size()))));
}
// A PNG from raw scanlines (filter byte 0 is prepended to each row here).
std::vector<uint8_t> make_png(uint32_t w, uint32_t h, uint8_t depth, uint8_t color,
                              const std::vector<std::vector<uint8_t>>& rows,
                              const std::vector<uint8_t>& plte = {}) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_u32be(&ihdr, w);
  put_u32be(&ihdr, h);
  ihdr.insert(ihdr.end(), {depth, color, 0, 0, 0});
  put_chunk(&png, "IHDR", ihdr);
  if (!plte.empty()) put_chunk(&png, "PLTE", plte);
  std::vector<uint8_t> raw;
  for (const auto& r : rows) {
    raw.push_back(0);
    raw.insert(raw.end(), r.begin(), r.end());
  }
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> z(zlen);
  EXPECT_EQ(compress(z.data(), &zlen, raw.data(), static_cast<uLong>(raw.size())), Z_OK);
  z.resize(zlen);
  put_chunk(&png, "IDAT", z);
  put_chunk(&png, "IEND", {});
  return png;
}

Image read_bytes_as_image(const std::vector<uint8_t>& bytes, const std::string& name,
                          const test::TempDir& dir) {
  const std::string path = dir.file(name);
  test::write_bytes(path, bytes);
  Result<Image> r = read_image(path);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : Image{};
}

TEST(Image, WritePngRoundTripsGrayRgbRgba) {
  test::TempDir dir;
  for (int c : {1, 3, 4}) {
    SCOPED_TRACE(c);
    Image img{5, 3, c, {}};
    for (int i = 0; i < 5 * 3 * c; ++i) img.pixels.push_back(static_cast<uint8_t>(i * 17 + 3));
    const std::string path = dir.file("rt" + std::to_string(c) + ".png");
    ASSERT_TRUE(write_png(path, img).ok());
    Result<Image> r = read_image(path);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->width, 5);
    EXPECT_EQ(r->height, 3);
    EXPECT_EQ(r->channels, c);
    EXPECT_EQ(r->pixels, img.pixels);
  }
}

TEST(Image, Png16BitGrayIsReducedTo8Bits) {
  test::TempDir dir;
  // Two pixels: 0x1234 and 0xFFFF; scaling rounds 0x1234 (4660/65535*255 = 18.1) to 18.
  auto png = make_png(2, 1, 16, 0, {{0x12, 0x34, 0xFF, 0xFF}});
  Image img = read_bytes_as_image(png, "g16.png", dir);
  ASSERT_EQ(img.channels, 1);
  ASSERT_EQ(img.pixels.size(), 2u);
  EXPECT_EQ(img.pixels[0], 18);
  EXPECT_EQ(img.pixels[1], 255);
}

TEST(Image, PalettePngIsExpandedToRgb) {
  test::TempDir dir;
  // 4-bit palette indices 0,1,2 (packed: 0x01, 0x20).
  auto png = make_png(3, 1, 4, 3, {{0x01, 0x20}}, {10, 20, 30, 40, 50, 60, 70, 80, 90});
  Image img = read_bytes_as_image(png, "pal.png", dir);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 70, 80, 90}));
}

TEST(Image, GrayAlphaAndLowDepthGray) {
  test::TempDir dir;
  Image ga = read_bytes_as_image(make_png(2, 1, 8, 4, {{7, 255, 9, 128}}), "ga.png", dir);
  EXPECT_EQ(ga.channels, 4);  // gray+alpha comes back as RGBA
  EXPECT_EQ(ga.pixels, (std::vector<uint8_t>{7, 7, 7, 255, 9, 9, 9, 128}));
  EXPECT_EQ(to_gray(ga).pixels, (std::vector<uint8_t>{7, 9}));
  // 1-bit gray 1,0,1 -> 255,0,255
  Image g1 = read_bytes_as_image(make_png(3, 1, 1, 0, {{0xA0}}), "g1.png", dir);
  EXPECT_EQ(g1.channels, 1);
  EXPECT_EQ(g1.pixels, (std::vector<uint8_t>{255, 0, 255}));
}

TEST(Image, JpegGrayAndRgbDecode) {
  test::TempDir dir;
  for (bool gray : {true, false}) {
    SCOPED_TRACE(gray);
    const int w = 16, h = 8, c = gray ? 1 : 3;
    std::vector<uint8_t> src(w * h * c);
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(100 + (i % 7));
    tjhandle tj = tjInitCompress();
    unsigned char* jpeg = nullptr;
    unsigned long jsize = 0;
    ASSERT_EQ(tjCompress2(tj, src.data(), w, 0, h, gray ? TJPF_GRAY : TJPF_RGB, &jpeg, &jsize,
                          gray ? TJSAMP_GRAY : TJSAMP_444, 100, 0),
              0);
    std::vector<uint8_t> bytes(jpeg, jpeg + jsize);
    tjFree(jpeg);
    tjDestroy(tj);
    Image img = read_bytes_as_image(bytes, "x.jpg", dir);
    ASSERT_EQ(img.width, w);
    ASSERT_EQ(img.height, h);
    ASSERT_EQ(img.channels, c);
    for (size_t i = 0; i < src.size(); ++i) EXPECT_NEAR(img.pixels[i], src[i], 3) << i;
  }
}

TEST(Image, ToGrayIsExactForRgbEncodedGray) {
  Image rgb{3, 1, 3, {0, 0, 0, 128, 128, 128, 255, 255, 255}};
  EXPECT_EQ(to_gray(rgb).pixels, (std::vector<uint8_t>{0, 128, 255}));
  Image red{1, 1, 3, {255, 0, 0}};
  EXPECT_EQ(to_gray(red).pixels[0], 76);  // 255 * 299 / 1000 = 76.2
}

TEST(Image, ReadsFixtureFrameMatchingReferenceRgb) {
  const auto frame = test::fixtures_dir() / "mobilesam" / "frame.png";
  const auto tensors = test::fixtures_dir() / "mobilesam" / "tensors.safetensors";
  {
    // (UM_REQUIRE_FIXTURE's parameter is named `path`, so its argument must be too.)
    const auto& path = frame;
    UM_REQUIRE_FIXTURE(path);
  }
  {
    const auto& path = tensors;
    UM_REQUIRE_FIXTURE(path);
  }
  Result<Image> img = read_image(frame.string());
  ASSERT_TRUE(img.ok()) << img.status().to_string();
  EXPECT_EQ(img->width, 422);
  EXPECT_EQ(img->height, 558);
  EXPECT_EQ(img->channels, 1);
  // The official code's image_rgb [H, W, 3] is this gray frame replicated into three channels.
  Result<TensorMap> ref = read_safetensors(tensors.string());
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  const Tensor& rgb = ref->at("image_rgb");
  ASSERT_EQ(rgb.shape(), (Shape{558, 422, 3}));
  const uint8_t* p = rgb.data<uint8_t>();
  int64_t mismatches = 0;
  for (size_t i = 0; i < img->pixels.size(); ++i) {
    mismatches += p[3 * i] != img->pixels[i] || p[3 * i + 1] != img->pixels[i];
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace um::io
