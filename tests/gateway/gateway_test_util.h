// File: tests/gateway/gateway_test_util.h
// Purpose: what the gateway's loopback tests share: a temp folder with the fixture checkpoints
// copied in (so nothing writes next to ../shared), a child process that can be signalled
// (SIGINT/SIGTERM tests), a minimal OpenIGTLink reading client built on src/igtl, and a
// wait-for-condition helper with a deadline (tests wait on conditions, never on fixed sleeps).
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "igtl/socket.h"
#include "igtl/stream_reader.h"
#include "child_process.h"
#include "test_support.h"

namespace um::gateway::test {

namespace fs = std::filesystem;

// Polls `cond` every 20 ms until true or `timeout` passes; returns the last value.
inline bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

// A fresh temp folder, removed at destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = fs::temp_directory_path() / ("um_gw_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Loud skip when a fixture is missing (like UM_REQUIRE_FIXTURE, whose parameter name `path`
// collides with `std::filesystem::path` inside its own body, so it cannot be called with an
// expression).
#define UM_GW_REQUIRE_FILE(p)                                                                 \
  do {                                                                                        \
    const std::filesystem::path um_gw_p = (p);                                                \
    if (!std::filesystem::exists(um_gw_p)) {                                                  \
      std::fprintf(stderr, "\n*** SKIPPED: fixture %s not found (set ULTRAMOTION_FIXTURES) ***\n", \
                   um_gw_p.string().c_str());                                                 \
      GTEST_SKIP() << "fixture not found: " << um_gw_p;                                       \
    }                                                                                         \
  } while (0)

// The fixture checkpoints (D-FINE-S, MobileSAM) as the e2e tests use them.
inline fs::path fixture_dfine() { return um::test::fixtures_dir() / "dfine_s" / "checkpoint.pth"; }
inline fs::path fixture_sam() { return um::test::fixtures_dir() / "mobilesam" / "checkpoint.pt"; }

using um::test::ChildProcess;
using um::test::python_exe;
using um::test::python_has_module;

// A Slicer-side client on src/igtl: connects, optionally reads, and counts messages by device.
class IgtlReader {
 public:
  Status connect(uint16_t port) {
    auto s = igtl::Socket::connect("127.0.0.1", port, 2000);
    if (!s.ok()) return s.status();
    socket_ = std::move(s).value();
    return Status::Ok();
  }
  // Reads for up to `ms`, collecting messages.
  void pump(int ms) {
    uint8_t buf[65536];
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      auto n = socket_.recv_some(buf, sizeof buf, 20);
      if (!n.ok()) {
        closed_ = true;
        return;
      }
      if (*n == 0) continue;
      reader_.feed(buf, *n);
      igtl::Message m;
      for (;;) {
        igtl::ReadOutcome o = reader_.next(m);
        if (o.state != igtl::ReadState::kMessage) break;
        messages_.push_back(std::move(m));
      }
    }
  }
  const std::vector<igtl::Message>& messages() const { return messages_; }
  size_t count(const std::string& device) const {
    size_t n = 0;
    for (const auto& m : messages_) n += m.device_name == device;
    return n;
  }
  bool closed() const { return closed_; }
  igtl::Socket& socket() { return socket_; }

 private:
  igtl::Socket socket_;
  igtl::StreamReader reader_;
  std::vector<igtl::Message> messages_;
  bool closed_ = false;
};

}  // namespace um::gateway::test
