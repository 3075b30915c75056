// Interop with pyigtl, an independent Python OpenIGTLink implementation (header version 2):
// pyigtl as a server feeding our codec, and as a client of our SlicerServer. IMAGE (uint8 and
// float32 with spacing and an oblique matrix), STRING, TRANSFORM and metadata go both ways and
// must arrive unchanged on each side (pyigtl_peer.py checks its side and exits non-zero on any
// mismatch). Skips loudly when python3 cannot import pyigtl.
#include <gtest/gtest.h>

#include <mutex>

#include "igtl/slicer_server.h"
#include "net_test_util.h"
#include "python_peer.h"
#include "reference_messages.h"
#include "test_support.h"

namespace um::igtl {
namespace {

const std::vector<std::string> kReferenceNames = {"Image_Reference", "Image_Float", "Text",
                                                  "ProbeToReference"};
const std::vector<std::string> kEchoNames = {"Echo_U8", "Echo_F32", "EchoText", "EchoTransform"};

std::filesystem::path peer_script() {
  return um::test::source_dir() / "tests/igtl/pyigtl_peer.py";
}

#define REQUIRE_PYIGTL()                                                                 \
  do {                                                                                   \
    if (!test::python_has_module("pyigtl")) {                                            \
      std::fprintf(stderr, "\n*** SKIPPED: python3 cannot import pyigtl (pip install pyigtl) ***\n"); \
      GTEST_SKIP() << "pyigtl not installed";                                            \
    }                                                                                    \
  } while (0)

int role_of(const std::string& device, const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == device) return static_cast<int>(i);
  return -1;
}

TEST(PyigtlInterop, PyigtlServerToOurCodecAndBack) {
  REQUIRE_PYIGTL();
  const uint16_t port = test::free_port();
  test::PythonPeer py(peer_script(), {"server", std::to_string(port)});
  Socket s;
  ASSERT_TRUE(test::wait_until([&] {
    auto c = Socket::connect("127.0.0.1", port, 200);
    if (c.ok()) s = std::move(c).value();
    return s.valid();
  }, 15000)) << "pyigtl server did not come up:\n" << py.output();

  StreamReader reader;
  std::vector<bool> seen(4, false);
  for (int n = 0; n < 4; ++n) {
    auto m = test::read_message(s, reader, 15000);
    ASSERT_TRUE(m.ok()) << m.status().to_string() << "\n" << py.output();
    EXPECT_EQ(m->header_version, 2);
    const int role = role_of(m->device_name, kReferenceNames);
    ASSERT_GE(role, 0) << m->device_name;
    seen[role] = true;
    test::expect_reference(*m, "pyigtl", role);
  }
  EXPECT_EQ(seen, std::vector<bool>(4, true));
  EXPECT_EQ(reader.total_rejects(), 0u);

  for (const auto& m : test::reference_messages("ultramotion", kEchoNames)) {
    ASSERT_TRUE(test::send_message(s, m).ok());
  }
  const int rc = py.wait(std::chrono::seconds(30));
  EXPECT_EQ(rc, 0) << py.output();
  EXPECT_NE(py.output().find("PYIGTL OK"), std::string::npos) << py.output();
}

TEST(PyigtlInterop, PyigtlClientOfOurSlicerServer) {
  REQUIRE_PYIGTL();
  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  std::mutex mu;
  std::vector<Message> received;
  server.set_message_callback([&](uint64_t, const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    received.push_back(m);
  });
  ASSERT_TRUE(server.start().ok());
  test::PythonPeer py(peer_script(), {"client", std::to_string(server.port())});
  ASSERT_TRUE(test::wait_until([&] { return server.client_count() == 1; }, 15000))
      << py.output();
  for (const auto& m : test::reference_messages("ultramotion", kReferenceNames)) {
    ASSERT_TRUE(server.broadcast(m).ok());
  }
  ASSERT_TRUE(test::wait_until([&] {
    std::lock_guard<std::mutex> l(mu);
    return received.size() >= 4;
  }, 20000)) << py.output();
  const int rc = py.wait(std::chrono::seconds(30));
  EXPECT_EQ(rc, 0) << py.output();
  EXPECT_NE(py.output().find("PYIGTL OK"), std::string::npos) << py.output();
  server.stop();
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(received.size(), 4u);
  for (const auto& m : received) {
    EXPECT_EQ(m.header_version, 2);
    const int role = role_of(m.device_name, kEchoNames);
    ASSERT_GE(role, 0) << m.device_name;
    test::expect_reference(m, "pyigtl", role);
  }
  EXPECT_EQ(server.counters().sent, 4u);
}

}  // namespace
}  // namespace um::igtl
