// The igtl CLI commands end to end: `ultramotion igtl-dump` against our SlicerServer and
// `ultramotion igtl-send` into it, plus their error paths (bad HOST:PORT, unreadable image,
// nobody listening) which must exit 1 with a named error, never crash.
#include <gtest/gtest.h>

#include <mutex>

#include "igtl/slicer_server.h"
#include "io/image.h"
#include "net_test_util.h"
#include "python_peer.h"
#include "test_support.h"

namespace um::igtl {
namespace {

using test::ChildProcess;

std::string cli() { return um::test::cli_path().string(); }

TEST(IgtlCli, DumpPrintsTypeDeviceSizeTimestampAndMetadata) {
  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  ASSERT_TRUE(server.start().ok());
  const std::string where = "127.0.0.1:" + std::to_string(server.port());
  ChildProcess dump({cli(), "igtl-dump", "--connect", where, "--count", "2", "--timeout", "20"});
  // igtl-dump's version-2 hello makes the server answer with version-2 headers.
  ASSERT_TRUE(test::wait_until([&] {
    auto st = server.client_stats();
    return st.size() == 1 && st[0].received == 1;
  }, 15000)) << dump.output();
  Message img = test::test_frame("BoneMask", 20, 10, 7);
  img.metadata.push_back({"State", "VISIBLE"});
  ASSERT_TRUE(server.broadcast(img).ok());
  ASSERT_TRUE(server.broadcast(make_status_message("UltraMotion", 13, "warming up")).ok());
  EXPECT_EQ(dump.wait(std::chrono::seconds(20)), 0) << dump.output();
  server.stop();
  const std::string out = dump.output();
  EXPECT_NE(out.find("#1 IMAGE device='BoneMask' header_v2"), std::string::npos) << out;
  EXPECT_NE(out.find("image 20x10x1 uint8 x1"), std::string::npos) << out;
  EXPECT_NE(out.find("spacing 0.2 0.25 1"), std::string::npos) << out;
  EXPECT_NE(out.find("meta FrameId = '7'"), std::string::npos) << out;
  EXPECT_NE(out.find("meta State = 'VISIBLE'"), std::string::npos) << out;
  EXPECT_NE(out.find("ts=2023-11-14T22:13:20.280000Z"), std::string::npos) << out;
  EXPECT_NE(out.find("#2 STATUS device='UltraMotion'"), std::string::npos) << out;
  EXPECT_NE(out.find("status code=13"), std::string::npos) << out;
}

TEST(IgtlCli, DumpExitsTwoWhenNothingArrives) {
  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  ASSERT_TRUE(server.start().ok());
  ChildProcess dump({cli(), "igtl-dump", "--connect", "127.0.0.1:" + std::to_string(server.port()),
                     "--timeout", "0.3"});
  EXPECT_EQ(dump.wait(std::chrono::seconds(20)), 2) << dump.output();
  server.stop();
}

TEST(IgtlCli, SendDeliversPixelsSpacingAndMetadata) {
  io::Image png;
  png.width = 31;
  png.height = 17;
  png.channels = 1;
  for (int i = 0; i < 31 * 17; ++i) png.pixels.push_back(static_cast<uint8_t>(i * 5));
  const auto path = std::filesystem::temp_directory_path() /
                    ("um_igtl_send_" + std::to_string(::getpid()) + ".png");
  ASSERT_TRUE(io::write_png(path.string(), png).ok());

  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  std::mutex mu;
  std::vector<Message> got;
  server.set_message_callback([&](uint64_t, const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    got.push_back(m);
  });
  ASSERT_TRUE(server.start().ok());
  ChildProcess send({cli(), "igtl-send", "--connect", "127.0.0.1:" + std::to_string(server.port()),
                     "--image", path.string(), "--device", "Probe", "--spacing", "0.2,0.3",
                     "--meta", "Site=phantom"});
  EXPECT_EQ(send.wait(std::chrono::seconds(20)), 0) << send.output();
  ASSERT_TRUE(test::wait_until([&] {
    std::lock_guard<std::mutex> l(mu);
    return !got.empty();
  }));
  server.stop();
  std::filesystem::remove(path);
  const Message& m = got[0];
  EXPECT_EQ(m.device_name, "Probe");
  EXPECT_NE(m.timestamp, 0u);
  ASSERT_NE(m.find_metadata("Site"), nullptr);
  EXPECT_EQ(*m.find_metadata("Site"), "phantom");
  const auto& img = std::get<ImageContent>(m.content);
  EXPECT_EQ(img.geometry.size, (std::array<uint32_t, 3>{31, 17, 1}));
  EXPECT_NEAR(img.geometry.spacing[0], 0.2, 1e-6);
  EXPECT_NEAR(img.geometry.spacing[1], 0.3, 1e-6);
  EXPECT_EQ(img.pixels, png.pixels);
}

TEST(IgtlCli, ErrorPathsExitOneWithANamedError) {
  {
    ChildProcess p({cli(), "igtl-dump", "--connect", "no-port-here"});
    EXPECT_EQ(p.wait(std::chrono::seconds(20)), 1);
    EXPECT_NE(p.output().find("INVALID_ARGUMENT"), std::string::npos) << p.output();
  }
  {
    ChildProcess p({cli(), "igtl-dump", "--connect", "127.0.0.1:" + std::to_string(test::free_port()),
                    "--timeout", "1"});
    EXPECT_EQ(p.wait(std::chrono::seconds(20)), 1);
    EXPECT_NE(p.output().find("UNAVAILABLE"), std::string::npos) << p.output();
  }
  {
    ChildProcess p({cli(), "igtl-send", "--connect", "127.0.0.1:1", "--image",
                    "/nonexistent/frame.png"});
    EXPECT_EQ(p.wait(std::chrono::seconds(20)), 1);
    EXPECT_NE(p.output().find("NOT_FOUND"), std::string::npos) << p.output();
  }
  {
    ChildProcess p({cli(), "igtl-send", "--connect", "127.0.0.1:1", "--image", "x.png",
                    "--spacing", "0.2"});
    EXPECT_EQ(p.wait(std::chrono::seconds(20)), 1);
    EXPECT_NE(p.output().find("--spacing"), std::string::npos) << p.output();
  }
}

}  // namespace
}  // namespace um::igtl
