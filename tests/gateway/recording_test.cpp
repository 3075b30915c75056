// Tests for src/gateway/recording.* and igtl_convert.*: the record format round-trips, a torn
// or corrupted file is reported (never parsed as data), and the RX/TX conversions keep the
// geometry, convert RGB-encoded gray and refuse what the pipeline cannot use.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gateway/igtl_convert.h"
#include "gateway/recording.h"
#include "gateway_test_util.h"
#include "igtl/header.h"

namespace um::gateway {
namespace {

pipeline::Frame make_frame(uint64_t id, int w, int h) {
  pipeline::Frame f;
  f.id = id;
  f.width = w;
  f.height = h;
  f.pixels.resize(static_cast<size_t>(w) * h);
  for (size_t i = 0; i < f.pixels.size(); ++i) f.pixels[i] = static_cast<uint8_t>(i * 7 + id);
  f.geometry.spacing = {0.3f, 0.25f, 1.0f};
  f.geometry.direction = {{{0, 1, 0}, {-1, 0, 0}, {0, 0, 1}}};
  f.geometry.origin = {12.5f, -7.0f, 40.0f};
  f.geometry.coordinate_system = 2;
  f.device_name = "Image_Reference";
  f.source_timestamp_ns = 1'700'000'000'123'456'789;
  f.receive_time_ns = 42'000'000 + static_cast<int64_t>(id);
  return f;
}

pipeline::FrameResult make_result(const pipeline::Frame& f, bool detected) {
  pipeline::FrameResult r;
  r.frame_id = f.id;
  r.width = f.width;
  r.height = f.height;
  r.detected = detected;
  r.detector_ran = true;
  r.box = {10.5f, 20.25f, 100.0f, 80.0f, 0.875f};
  r.state = detected ? pipeline::VisibilityState::kVisible : pipeline::VisibilityState::kLost;
  r.state_changed = true;
  r.quality.sharpness = 0.1f;
  r.quality.contrast = 0.2f;
  r.quality.continuity = 0.3f;
  r.quality.stability = 0.4f;
  r.quality.combined = 0.5f;
  r.timings.total_ns = 1234567;
  r.timings.start_ns = 100;
  r.timings.end_ns = 1234667;
  if (detected) {
    r.mask.assign(f.pixels.size(), 0);
    for (size_t i = 0; i < r.mask.size(); i += 3) r.mask[i] = 1;
    r.mask_area = static_cast<int64_t>((r.mask.size() + 2) / 3);
  }
  return r;
}

class RecordingTest : public ::testing::Test {
 protected:
  test::TempDir tmp_{"recording"};
  std::string path_ = (tmp_.path() / "r.umrec").string();
};

TEST_F(RecordingTest, RoundTripsFramesAndResults) {
  {
    auto w = RecordingWriter::open(path_);
    ASSERT_TRUE(w.ok());
    for (uint64_t id = 1; id <= 3; ++id) {
      pipeline::Frame f = make_frame(id, 160 + static_cast<int>(id), 200);
      ASSERT_TRUE((*w)->write(f, make_result(f, id != 2)).ok());
    }
    ASSERT_TRUE((*w)->close().ok());
  }
  auto r = RecordingReader::open(path_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  for (uint64_t id = 1; id <= 3; ++id) {
    auto rec = (*r)->next();
    ASSERT_TRUE(rec.ok()) << rec.status().to_string();
    ASSERT_TRUE(rec->has_value());
    const pipeline::Frame want = make_frame(id, 160 + static_cast<int>(id), 200);
    const pipeline::FrameResult want_r = make_result(want, id != 2);
    const RecordedFrame& got = **rec;
    EXPECT_EQ(got.frame.id, id);
    EXPECT_EQ(got.frame.width, want.width);
    EXPECT_EQ(got.frame.pixels, want.pixels);
    EXPECT_EQ(got.frame.geometry.spacing, want.geometry.spacing);
    EXPECT_EQ(got.frame.geometry.direction, want.geometry.direction);
    EXPECT_EQ(got.frame.geometry.origin, want.geometry.origin);
    EXPECT_EQ(got.frame.geometry.coordinate_system, 2);
    EXPECT_EQ(got.frame.device_name, "Image_Reference");
    EXPECT_EQ(got.frame.source_timestamp_ns, want.source_timestamp_ns);
    EXPECT_EQ(got.frame.receive_time_ns, want.receive_time_ns);
    EXPECT_EQ(got.result.detected, id != 2);
    EXPECT_EQ(got.result.mask, want_r.mask);
    EXPECT_EQ(got.result.mask_area, want_r.mask_area);
    EXPECT_EQ(got.result.state, want_r.state);
    EXPECT_FLOAT_EQ(got.result.box.y0, 20.25f);
    EXPECT_FLOAT_EQ(got.result.box.score, 0.875f);
    EXPECT_FLOAT_EQ(got.result.quality.combined, 0.5f);
    EXPECT_EQ(got.result.timings.total_ns, 1234567);
  }
  auto end = (*r)->next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_TRUE((*r)->complete());
  EXPECT_EQ((*r)->records_read(), 3u);
}

TEST_F(RecordingTest, TruncatedFileIsReportedAsIncomplete) {
  {
    auto w = RecordingWriter::open(path_);
    ASSERT_TRUE(w.ok());
    pipeline::Frame f = make_frame(1, 160, 200);
    ASSERT_TRUE((*w)->write(f, make_result(f, true)).ok());
    ASSERT_TRUE((*w)->write(f, make_result(f, true)).ok());
    ASSERT_TRUE((*w)->close().ok());
  }
  const auto full = std::filesystem::file_size(path_);
  for (uintmax_t cut : {full - 1, full - 20, full / 2, uintmax_t{9}}) {
    std::filesystem::copy_file(path_, path_ + ".cut", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(path_ + ".cut", cut);
    auto r = RecordingReader::open(path_ + ".cut");
    ASSERT_TRUE(r.ok());
    Status last;
    int frames = 0;
    for (;;) {
      auto rec = (*r)->next();
      if (!rec.ok()) {
        last = rec.status();
        break;
      }
      if (!rec->has_value()) break;
      ++frames;
    }
    EXPECT_EQ(last.code(), StatusCode::kDataLoss) << "cut at " << cut;
    EXPECT_FALSE((*r)->complete());
    EXPECT_LE(frames, 2);
  }
}

TEST_F(RecordingTest, CorruptedRecordFailsItsCrcAndBadMagicIsRefused) {
  {
    auto w = RecordingWriter::open(path_);
    ASSERT_TRUE(w.ok());
    pipeline::Frame f = make_frame(1, 160, 200);
    ASSERT_TRUE((*w)->write(f, make_result(f, true)).ok());
  }  // destructor closes
  {
    std::fstream io(path_, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(8 + 8 + 500);
    io.put('\x5a');
  }
  auto r = RecordingReader::open(path_);
  ASSERT_TRUE(r.ok());
  auto rec = (*r)->next();
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.status().message().find("CRC-32 mismatch"), std::string::npos);

  std::ofstream(path_ + ".txt") << "not a recording at all";
  EXPECT_EQ(RecordingReader::open(path_ + ".txt").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(RecordingReader::open(path_ + ".absent").status().code(), StatusCode::kNotFound);
}

// --- igtl_convert ---------------------------------------------------------------------------------

TEST(IgtlConvert, GeometrySurvivesFrameToMessageAndBack) {
  pipeline::Frame f = make_frame(5, 160, 200);
  igtl::Message m = frame_to_image_message(f, 2);
  const auto& img = std::get<igtl::ImageContent>(m.content);
  EXPECT_EQ(img.geometry.size, (std::array<uint32_t, 3>{160, 200, 1}));
  const igtl::Vec3 centre = img.geometry.centre();
  EXPECT_NEAR(centre[0], 12.5, 1e-5);
  EXPECT_NEAR(centre[1], -7.0, 1e-5);
  EXPECT_NEAR(centre[2], 40.0, 1e-5);
  auto back = frame_from_image_message(m);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->pixels, f.pixels);
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(back->geometry.spacing[a], f.geometry.spacing[a], 1e-6);
    EXPECT_NEAR(back->geometry.origin[a], f.geometry.origin[a], 1e-4);
    for (int r = 0; r < 3; ++r)
      EXPECT_NEAR(back->geometry.direction[a][r], f.geometry.direction[a][r], 1e-6);
  }
  EXPECT_EQ(back->geometry.coordinate_system, 2);
  EXPECT_NEAR(static_cast<double>(back->source_timestamp_ns - f.source_timestamp_ns), 0.0, 2.0);
}

TEST(IgtlConvert, RgbEncodedGrayBecomesGrayAndUnusableImagesAreRefused) {
  igtl::ImageGeometry g;
  g.size = {128, 130, 1};
  std::vector<uint8_t> rgb(128 * 130 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>((i / 3) % 251);
  auto f = frame_from_image_message(
      igtl::make_image_message("Image_Reference", g, igtl::ScalarType::kUint8, 3, rgb));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  for (size_t i = 0; i < f->pixels.size(); ++i) ASSERT_EQ(f->pixels[i], rgb[i * 3]);

  std::vector<uint8_t> fl(128 * 130 * 4);
  auto bad_type = frame_from_image_message(
      igtl::make_image_message("Image_Reference", g, igtl::ScalarType::kFloat32, 1, fl));
  EXPECT_EQ(bad_type.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_type.status().message().find("float32"), std::string::npos);

  igtl::ImageGeometry tiny;
  tiny.size = {100, 130, 1};
  auto small = frame_from_image_message(igtl::make_image_message(
      "Image_Reference", tiny, igtl::ScalarType::kUint8, 1, std::vector<uint8_t>(100 * 130)));
  EXPECT_EQ(small.status().code(), StatusCode::kOutOfRange);

  igtl::ImageGeometry vol;
  vol.size = {128, 128, 2};
  auto volume = frame_from_image_message(igtl::make_image_message(
      "Image_Reference", vol, igtl::ScalarType::kUint8, 1, std::vector<uint8_t>(128 * 128 * 2)));
  EXPECT_EQ(volume.status().code(), StatusCode::kInvalidArgument);

  EXPECT_FALSE(frame_from_image_message(igtl::make_status_message("x", 1, "")).ok());
}

TEST(IgtlConvert, TxMessagesCarryLabelValueGeometryTimestampAndStatus) {
  OutputItem item;
  item.frame = make_frame(9, 160, 200);
  item.result = make_result(item.frame, true);
  item.result.w_edge.assign(item.frame.pixels.size(), 1);
  item.result.w_in.assign(item.frame.pixels.size(), 0);
  item.result.w_out.assign(item.frame.pixels.size(), 1);
  item.frame.pixels.clear();
  TxOptions o;
  o.label_value = 255;
  o.outputs.weights = true;
  auto msgs = build_tx_messages(item, o, 1000);
  ASSERT_EQ(msgs.size(), 5u);  // BoneMask, 3 weights, STATUS (state changed)
  EXPECT_EQ(msgs[0].device_name, "BoneMask");
  EXPECT_EQ(msgs[1].device_name, "BoneMask_Wedge");
  EXPECT_EQ(msgs[2].device_name, "BoneMask_Win");
  EXPECT_EQ(msgs[3].device_name, "BoneMask_Wout");
  EXPECT_EQ(msgs[4].type, "STATUS");
  EXPECT_EQ(std::get<igtl::StatusContent>(msgs[4].content).error_name, "VISIBLE");
  const auto& img = std::get<igtl::ImageContent>(msgs[0].content);
  EXPECT_EQ(img.geometry.size, (std::array<uint32_t, 3>{160, 200, 1}));
  EXPECT_NEAR(img.geometry.centre()[0], 12.5, 1e-5);
  EXPECT_EQ(img.pixels[0], 255);
  EXPECT_EQ(img.pixels[1], 0);
  EXPECT_EQ(msgs[0].timestamp, igtl::timestamp_from_ns(item.frame.source_timestamp_ns));
  EXPECT_EQ(*msgs[0].find_metadata("FrameId"), "9");
  EXPECT_EQ(*msgs[0].find_metadata("State"), "VISIBLE");
  EXPECT_EQ(*msgs[0].find_metadata("Box"), "10.50 20.25 100.00 80.00");
  EXPECT_EQ(std::get<igtl::ImageContent>(msgs[2].content).pixels[0], 0);  // W_in all 0

  // No detection: an all-zero labelmap of the frame's size; STATUS only on a change.
  item.result = make_result(make_frame(9, 160, 200), false);
  item.result.state_changed = false;
  o.outputs.weights = false;
  msgs = build_tx_messages(item, o, 1000);
  ASSERT_EQ(msgs.size(), 1u);
  const auto& empty = std::get<igtl::ImageContent>(msgs[0].content);
  EXPECT_EQ(empty.pixels.size(), 160u * 200u);
  EXPECT_EQ(std::count(empty.pixels.begin(), empty.pixels.end(), 0), 160 * 200);
}

}  // namespace
}  // namespace um::gateway
