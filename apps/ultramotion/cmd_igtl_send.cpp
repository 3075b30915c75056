// File: apps/ultramotion/cmd_igtl_send.cpp
// Purpose: `ultramotion igtl-send --connect HOST:PORT --image FILE.png [--device NAME]
// [--spacing sx,sy]`: send a PNG/JPEG as an OpenIGTLink IMAGE to a server (3D Slicer, the
// gateway's input side in tests, ...), to check a setup end to end. Gray images go as 1
// component, RGB(A) as 3(4) unless --gray; geometry: spacing sx,sy (mm, default 1,1), identity
// axes, first pixel at the origin; timestamp = now (UTC); metadata with --meta KEY=VALUE.
// --repeat N --fps F streams the same frame N times (a poor man's PlusServer).
// Exit codes: 0 sent; 1 bad arguments, unreadable image or connection failure.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "command_registry.h"
#include "core/clock.h"
#include "core/status.h"
#include "igtl/codec.h"
#include "igtl/socket.h"
#include "io/image.h"

namespace um::cli {
namespace {

struct SendOptions {
  std::string connect, image, device = "Image_Reference", spacing = "1,1";
  std::vector<std::string> meta;
  int header_version = 2;
  int repeat = 1;
  double fps = 25;
  bool gray = false;
};

Status parse_spacing(const std::string& s, double& sx, double& sy) {
  const auto comma = s.find(',');
  try {
    if (comma == std::string::npos) throw std::invalid_argument("no comma");
    size_t used = 0;
    sx = std::stod(s.substr(0, comma), &used);
    if (used != comma) throw std::invalid_argument("junk");
    const std::string rest = s.substr(comma + 1);
    sy = std::stod(rest, &used);
    if (used != rest.size()) throw std::invalid_argument("junk");
  } catch (const std::exception&) {
    return invalid_argument("--spacing must be SX,SY in mm, got '" + s + "'");
  }
  if (!(sx > 0) || !(sy > 0)) return invalid_argument("--spacing values must be > 0");
  return Status::Ok();
}

void run_send(const SendOptions& o) {
  std::string host;
  uint16_t port = 0;
  throw_if_error(igtl::parse_host_port(o.connect, host, port));
  double sx = 1, sy = 1;
  throw_if_error(parse_spacing(o.spacing, sx, sy));
  igtl::Metadata metadata;
  for (const auto& kv : o.meta) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(invalid_argument("--meta expects KEY=VALUE, got '" + kv + "'"));
    }
    metadata.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
  }
  auto img = io::read_image(o.image);
  if (!img.ok()) throw Error(img.status().with_context(o.image));
  io::Image frame = o.gray && img->channels != 1 ? io::to_gray(*img) : std::move(img).value();

  igtl::ImageGeometry g;
  g.size = {static_cast<uint32_t>(frame.width), static_cast<uint32_t>(frame.height), 1};
  g.spacing = {sx, sy, 1.0};
  auto sock = igtl::Socket::connect(host, port, 3000);
  throw_if_error(sock.status());
  const auto period = std::chrono::duration<double>(o.fps > 0 ? 1.0 / o.fps : 0.0);
  std::vector<uint8_t> wire;
  for (int i = 0; i < o.repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    igtl::Message m = igtl::make_image_message(o.device, g, igtl::ScalarType::kUint8,
                                               static_cast<uint8_t>(frame.channels),
                                               frame.pixels, wall_clock_ns());
    m.header_version = static_cast<uint16_t>(o.header_version);
    m.metadata = metadata;
    if (o.repeat > 1) m.metadata.push_back({"FrameIndex", std::to_string(i)});
    wire.clear();
    throw_if_error(igtl::encode_into(m, wire));
    throw_if_error(sock->send_all(wire.data(), wire.size(), 10000));
    if (i + 1 < o.repeat) std::this_thread::sleep_until(t0 + period);
  }
  std::printf("sent %d IMAGE '%s' %dx%d x%d uint8 spacing %g,%g header_v%d (%zu bytes each) to %s\n",
              o.repeat, o.device.c_str(), frame.width, frame.height, frame.channels, sx, sy,
              o.header_version, wire.size(), o.connect.c_str());
  sock->shutdown_both();
}

void register_igtl_send(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "igtl-send", "Send a PNG/JPEG image as an OpenIGTLink IMAGE to HOST:PORT.");
  auto o = std::make_shared<SendOptions>();
  cmd->add_option("--connect", o->connect, "HOST:PORT of the receiver")->required();
  cmd->add_option("--image", o->image, "PNG or JPEG file")->required();
  cmd->add_option("--device", o->device, "device name (at most 20 characters)")
      ->capture_default_str();
  cmd->add_option("--spacing", o->spacing, "pixel spacing SX,SY in mm")->capture_default_str();
  cmd->add_option("--meta", o->meta, "metadata KEY=VALUE (repeatable; header version 2 only)");
  cmd->add_option("--header-version", o->header_version, "OpenIGTLink header version 1 or 2")
      ->check(CLI::IsMember({1, 2}))
      ->capture_default_str();
  cmd->add_option("--repeat", o->repeat, "send the frame N times")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--fps", o->fps, "frame rate when repeating")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--gray", o->gray, "convert RGB(A) input to one gray component");
  cmd->callback([o] { run_send(*o); });
}

}  // namespace

UM_REGISTER_COMMAND(register_igtl_send);

}  // namespace um::cli
