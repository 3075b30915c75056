// File: apps/ultramotion/cmd_igtl_dump.cpp
// Purpose: `ultramotion igtl-dump --connect HOST:PORT [--count N] [--timeout S]`: connect to an
// OpenIGTLink server (PlusServer, the gateway's Slicer port, ...) and print every message it
// sends: type, device, header version, body size, timestamp, content summary and metadata.
// Rejected messages are printed with their counted reason. Unlike PlusClient this shows every
// message of a burst (nothing is superseded).
// By default one header-version-2 STATUS is sent on connect, as PlusServer only sends
// version-2 headers (and metadata) after receiving one; --no-hello for version-1-only servers.
// Exit codes: 0 = at least one message (or --count reached); 2 = none within --timeout or the
// server closed first without any; 1 = cannot connect (error: UNAVAILABLE: ...).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command_registry.h"
#include "core/clock.h"
#include "core/status.h"
#include "igtl/codec.h"
#include "igtl/describe.h"
#include "igtl/socket.h"
#include "igtl/stream_reader.h"

namespace um::cli {
namespace {

struct DumpOptions {
  std::string connect;
  int count = 0;          // 0 = unlimited
  double timeout_s = 0;   // 0 = unlimited
  bool hello = true;
  bool check_crc = true;
};

int run_dump(const DumpOptions& o) {
  std::string host;
  uint16_t port = 0;
  throw_if_error(igtl::parse_host_port(o.connect, host, port));
  auto sock = igtl::Socket::connect(host, port, 3000);
  throw_if_error(sock.status());
  std::fprintf(stderr, "connected to %s\n", o.connect.c_str());
  if (o.hello) {
    igtl::Message hello = igtl::make_status_message("UltraMotionDump", 1, "igtl-dump");
    hello.header_version = 2;
    hello.timestamp = igtl::timestamp_from_ns(wall_clock_ns());
    auto wire = igtl::encode(hello);
    throw_if_error(wire.status());
    throw_if_error(sock->send_all(wire->data(), wire->size(), 3000));
  }
  igtl::DecodeOptions d;
  d.check_crc = o.check_crc;
  igtl::StreamReader reader(d);
  std::vector<uint8_t> buf(1 << 18);
  const int64_t deadline =
      o.timeout_s > 0 ? monotonic_ns() + static_cast<int64_t>(o.timeout_s * 1e9) : INT64_MAX;
  int printed = 0;
  std::string end = "";
  while (o.count == 0 || printed < o.count) {
    if (monotonic_ns() > deadline) {
      end = "timeout";
      break;
    }
    auto n = sock->recv_some(buf.data(), buf.size(), 50);
    if (!n.ok()) {
      end = n.status().message();
      auto f = reader.finish();
      if (f.state == igtl::ReadState::kRejected) {
        std::printf("! rejected (%s): %s\n", igtl::reject_reason_name(f.reason),
                    f.status.message().c_str());
      }
      break;
    }
    reader.feed(buf.data(), *n);
    igtl::Message m;
    bool closed = false;
    while (o.count == 0 || printed < o.count) {
      const size_t before = reader.buffered();
      igtl::ReadOutcome r = reader.next(m);
      if (r.state == igtl::ReadState::kNeedMore) break;
      if (r.state == igtl::ReadState::kRejected) {
        std::printf("! rejected (%s, connection %s): %s\n", igtl::reject_reason_name(r.reason),
                    r.close_connection ? "closed" : "kept", r.status.message().c_str());
        if (r.close_connection) {
          closed = true;
          end = "stream unusable";
          break;
        }
        continue;
      }
      ++printed;
      const uint64_t body = before - reader.buffered() - igtl::kHeaderSize;
      std::printf("#%d %s\n", printed, igtl::describe(m, body).c_str());
      std::fflush(stdout);
    }
    if (closed) break;
  }
  std::fprintf(stderr, "%d message(s)%s%s; rejected %llu\n", printed, end.empty() ? "" : ", ",
               end.c_str(), static_cast<unsigned long long>(reader.total_rejects()));
  return printed > 0 ? 0 : 2;
}

void register_igtl_dump(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "igtl-dump",
      "Connect to an OpenIGTLink server and print every message it sends (type, device, size, "
      "timestamp, content, metadata). Exit 2 if nothing arrived.");
  auto o = std::make_shared<DumpOptions>();
  cmd->add_option("--connect", o->connect, "HOST:PORT of the server (e.g. 127.0.0.1:18944)")
      ->required();
  cmd->add_option("--count", o->count, "stop after N messages (0 = no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--timeout", o->timeout_s, "stop after S seconds (0 = no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("!--no-hello", o->hello,
                "do not send the version-2 STATUS on connect (for version-1-only servers)");
  cmd->add_flag("!--no-crc", o->check_crc, "do not verify CRC-64 of received bodies");
  cmd->callback([o] {
    const int rc = run_dump(*o);
    if (rc != 0) throw CommandFailed(rc, "no message received");
  });
}

}  // namespace

UM_REGISTER_COMMAND(register_igtl_dump);

}  // namespace um::cli
