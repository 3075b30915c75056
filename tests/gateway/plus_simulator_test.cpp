// Tests for src/gateway/plus_simulator.*: the PlusServer behaviours the gateway relies on.
// Header version 1 until the client speaks version 2, IMAGE named Image_Reference with the
// acquisition time in the header and the configured geometry, STATUS keep-alives when idle,
// bursts counted, image folders replayed in name order, a size change mid-stream.
#include "gateway/plus_simulator.h"

#include <gtest/gtest.h>

#include "core/clock.h"
#include "gateway_test_util.h"
#include "igtl/codec.h"
#include "igtl/header.h"
#include "io/image.h"

namespace um::gateway {
namespace {

using namespace std::chrono_literals;
using test::IgtlReader;
using test::wait_until;

size_t count_type(const IgtlReader& r, const std::string& type, uint16_t version) {
  size_t n = 0;
  for (const auto& m : r.messages()) n += m.type == type && m.header_version == version;
  return n;
}

TEST(PlusSimulator, SpeaksVersion1UntilTheClientSendsVersion2) {
  PlusSimulatorOptions o;
  o.port = 0;
  o.fps = 30;
  o.source_options.size = {128, 160};
  o.geometry.spacing = {0.5f, 0.4f, 1.0f};
  o.geometry.origin = {1.0f, 2.0f, 3.0f};
  PlusSimulator sim(o);
  ASSERT_TRUE(sim.start().ok());
  IgtlReader client;
  const int64_t t0 = wall_clock_ns();
  ASSERT_TRUE(client.connect(sim.port()).ok());
  ASSERT_TRUE(wait_until([&] {
    client.pump(20);
    return count_type(client, "IMAGE", 1) >= 3;
  }, 20s));
  EXPECT_EQ(count_type(client, "IMAGE", 2), 0u);
  const igtl::Message& first = client.messages().front();
  EXPECT_EQ(first.device_name, "Image_Reference");
  const auto& img = std::get<igtl::ImageContent>(first.content);
  EXPECT_EQ(img.geometry.size, (std::array<uint32_t, 3>{160, 128, 1}));
  EXPECT_EQ(img.scalar_type, igtl::ScalarType::kUint8);
  EXPECT_NEAR(img.geometry.spacing[0], 0.5, 1e-6);
  EXPECT_NEAR(img.geometry.centre()[2], 3.0, 1e-5);
  const int64_t ts = igtl::timestamp_to_ns(first.timestamp);
  EXPECT_GE(ts, t0 - 1'000'000);  // acquisition time: stamped when made, on this clock
  EXPECT_LE(ts, wall_clock_ns());

  // Any version-2 message switches this client to version-2 replies.
  igtl::Message hello = igtl::make_status_message("UltraMotion", 1, "");
  hello.header_version = 2;
  auto bytes = igtl::encode(hello).value();
  ASSERT_TRUE(client.socket().send_all(bytes.data(), bytes.size(), 1000).ok());
  ASSERT_TRUE(wait_until([&] {
    client.pump(20);
    return count_type(client, "IMAGE", 2) >= 2;
  }, 20s));
  EXPECT_EQ(sim.counters().v2_clients, 1u);
  sim.stop();
}

TEST(PlusSimulator, SendsKeepAlivesWhenIdleAndCountsBursts) {
  PlusSimulatorOptions o;
  o.port = 0;
  o.fps = 50;
  o.burst_probability = 1.0;  // every frame starts or joins a burst
  o.source_options.size = {128, 128};
  PlusSimulator sim(o);
  ASSERT_TRUE(sim.start().ok());
  IgtlReader client;
  ASSERT_TRUE(client.connect(sim.port()).ok());
  ASSERT_TRUE(wait_until([&] {
    client.pump(20);
    return count_type(client, "IMAGE", 1) >= 6;
  }, 20s));
  PlusSimulatorCounters c = sim.counters();
  EXPECT_GE(c.bursts, 2u);
  EXPECT_GE(c.frames_generated, c.frames_sent);  // a held burst may still be pending

  sim.set_paused(true);
  const size_t before = count_type(client, "STATUS", 1);
  ASSERT_TRUE(wait_until([&] {
    client.pump(20);
    return count_type(client, "STATUS", 1) >= before + 3;
  }, 20s)) << "no keep-alives while idle";
  for (const auto& m : client.messages())
    if (m.type == "STATUS") {
      EXPECT_EQ(std::get<igtl::StatusContent>(m.content).code, 1);
    }
  sim.stop();
}

TEST(PlusSimulator, ReplaysAFolderInNameOrderAndChangesPhantomSize) {
  test::TempDir dir("simfolder");
  for (int i = 0; i < 3; ++i) {
    io::Image img;
    img.width = 128 + 16 * i;
    img.height = 140;
    img.channels = 1;
    img.pixels.assign(static_cast<size_t>(img.width) * img.height, static_cast<uint8_t>(40 * i));
    std::string name = "f";  // (built stepwise: GCC 12 warns on "f" + to_string() falsely)
    name += std::to_string(i);
    name += ".png";
    ASSERT_TRUE(io::write_png((dir.path() / name).string(), img).ok());
  }
  std::ofstream(dir.path() / "notes.txt") << "ignored";
  PlusSimulatorOptions o;
  o.port = 0;
  o.fps = 20;
  o.burst_probability = 0;
  o.source = dir.path().string();
  o.source_options.loop = false;
  PlusSimulator sim(o);
  sim.set_paused(true);  // a real PLUS streams to nobody too: hold frames until we listen
  ASSERT_TRUE(sim.start().ok());
  IgtlReader client;
  ASSERT_TRUE(client.connect(sim.port()).ok());
  ASSERT_TRUE(wait_until([&] { return sim.counters().clients == 1; }, 10s));
  sim.set_paused(false);
  ASSERT_TRUE(wait_until([&] {
    client.pump(20);
    return count_type(client, "IMAGE", 1) >= 3;
  }, 20s));
  client.pump(300);  // the source is exhausted: nothing more arrives
  std::vector<uint32_t> widths;
  for (const auto& m : client.messages())
    if (m.type == "IMAGE") widths.push_back(std::get<igtl::ImageContent>(m.content).geometry.size[0]);
  EXPECT_EQ(widths, (std::vector<uint32_t>{128, 144, 160}));
  EXPECT_FALSE(sim.source_description().empty());
  sim.stop();

  EXPECT_FALSE(make_frame_source((dir.path() / "none").string(), {}).ok());
  EXPECT_EQ(parse_frame_size("558x422").value(), (pipeline::FrameSize{558, 422}));
  EXPECT_FALSE(parse_frame_size("558x").ok());
  EXPECT_FALSE(parse_frame_size("100x422").ok());

  PlusSimulatorOptions p;
  p.port = 0;
  p.fps = 30;
  p.source_options.size = {128, 128};
  PlusSimulator phantom(p);
  ASSERT_TRUE(phantom.start().ok());
  IgtlReader c2;
  ASSERT_TRUE(c2.connect(phantom.port()).ok());
  phantom.set_size({200, 300});
  ASSERT_TRUE(wait_until([&] {
    c2.pump(20);
    for (const auto& m : c2.messages())
      if (m.type == "IMAGE" && std::get<igtl::ImageContent>(m.content).geometry.size[0] == 300)
        return true;
    return false;
  }, 20s));
  phantom.stop();
}

}  // namespace
}  // namespace um::gateway
