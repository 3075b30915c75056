// Interop with Debian's libOpenIGTLink 1.11 (the reference C++ implementation, header version
// 1 only): its client talks to our SlicerServer, its server feeds our PlusClient, and it decodes
// (CRC checked) what our codec sends. IMAGE (uint8, oblique matrix, centre origin) and STATUS.
// Every libOpenIGTLink call runs on a helper thread with socket timeouts; results are asserted
// on the test thread.
#include <gtest/gtest.h>

#include <igtlClientSocket.h>
#include <igtlImageMessage.h>
#include <igtlMessageHeader.h>
#include <igtlServerSocket.h>
#include <igtlStatusMessage.h>

#include <cstring>
#include <mutex>
#include <thread>

#include "igtl/plus_client.h"
#include "igtl/slicer_server.h"
#include "net_test_util.h"
#include "reference_messages.h"

namespace {

namespace ut = um::igtl::test;
using um::igtl::ImageContent;
using um::igtl::Message;
using um::igtl::StatusContent;

const uint64_t kTimestamp = (uint64_t{1700000123} << 32) | 0x40000000u;  // .25 s

// What libOpenIGTLink decoded, for assertions on the test thread.
struct LibImage {
  bool ok = false;
  std::string error, device;
  int dims[3] = {0, 0, 0}, scalar = 0, components = 0, coord = 0;
  float spacing[3] = {0, 0, 0}, origin[3] = {0, 0, 0}, normals[3][3] = {};
  unsigned sec = 0, frac = 0;
  std::vector<uint8_t> pixels;
};
struct LibStatus {
  bool ok = false;
  std::string error, device, error_name, text;
  int code = 0;
  long long subcode = 0;
};

// Receives one message of `type` with libOpenIGTLink (CRC checked) into `img` or `st`.
bool lib_receive(::igtl::Socket* sock, LibImage* img, LibStatus* st, std::string& error) {
  auto header = ::igtl::MessageHeader::New();
  header->InitPack();
  if (sock->Receive(header->GetPackPointer(), header->GetPackSize()) != header->GetPackSize()) {
    error = "header receive failed";
    return false;
  }
  header->Unpack();
  const std::string type = header->GetDeviceType();
  if (type == "IMAGE" && img) {
    auto m = ::igtl::ImageMessage::New();
    m->SetMessageHeader(header);
    m->AllocatePack();
    sock->Receive(m->GetPackBodyPointer(), m->GetPackBodySize());
    if (!(m->Unpack(1) & ::igtl::MessageHeader::UNPACK_BODY)) {
      error = "libOpenIGTLink refused the IMAGE body (CRC or size)";
      return false;
    }
    img->device = m->GetDeviceName();
    m->GetDimensions(img->dims);
    m->GetSpacing(img->spacing);
    m->GetOrigin(img->origin);
    m->GetNormals(img->normals);
    img->scalar = m->GetScalarType();
    img->components = m->GetNumComponents();
    img->coord = m->GetCoordinateSystem();
    m->GetTimeStamp(&img->sec, &img->frac);
    const auto* p = static_cast<const uint8_t*>(m->GetScalarPointer());
    img->pixels.assign(p, p + m->GetImageSize());
    img->ok = true;
    return true;
  }
  if (type == "STATUS" && st) {
    auto m = ::igtl::StatusMessage::New();
    m->SetMessageHeader(header);
    m->AllocatePack();
    sock->Receive(m->GetPackBodyPointer(), m->GetPackBodySize());
    if (!(m->Unpack(1) & ::igtl::MessageHeader::UNPACK_BODY)) {
      error = "libOpenIGTLink refused the STATUS body";
      return false;
    }
    st->device = m->GetDeviceName();
    st->code = m->GetCode();
    st->subcode = m->GetSubCode();
    st->error_name = m->GetErrorName();
    st->text = m->GetStatusString();
    st->ok = true;
    return true;
  }
  error = "unexpected message type '" + type + "'";
  sock->Skip(header->GetBodySizeToRead(), 0);
  return false;
}

::igtl::ImageMessage::Pointer lib_image(const char* device) {
  const auto g = ut::u8_geometry();
  auto m = ::igtl::ImageMessage::New();
  m->SetDimensions(g.size[0], g.size[1], g.size[2]);
  m->SetSpacing(g.spacing[0], g.spacing[1], g.spacing[2]);
  float t[3], s[3], n[3];
  for (int r = 0; r < 3; ++r) {
    t[r] = static_cast<float>(g.direction[0][r]);
    s[r] = static_cast<float>(g.direction[1][r]);
    n[r] = static_cast<float>(g.direction[2][r]);
  }
  m->SetNormals(t, s, n);
  const auto c = g.centre();  // libOpenIGTLink's "origin" is the wire field: the image centre
  m->SetOrigin(static_cast<float>(c[0]), static_cast<float>(c[1]), static_cast<float>(c[2]));
  m->SetScalarType(::igtl::ImageMessage::TYPE_UINT8);
  m->SetCoordinateSystem(::igtl::ImageMessage::COORDINATE_LPS);
  m->SetDeviceName(device);
  m->SetTimeStamp(static_cast<unsigned>(kTimestamp >> 32), static_cast<unsigned>(kTimestamp));
  m->AllocateScalars();
  const auto px = ut::u8_pixels();
  std::memcpy(m->GetScalarPointer(), px.data(), px.size());
  m->Pack();
  return m;
}

::igtl::StatusMessage::Pointer lib_status(const char* device) {
  auto m = ::igtl::StatusMessage::New();
  m->SetDeviceName(device);
  m->SetCode(::igtl::StatusMessage::STATUS_NOT_READY);
  m->SetSubCode(-77);
  m->SetErrorName("Warmup");
  m->SetStatusString("loading models");
  m->Pack();
  return m;
}

Message our_image(const std::string& device) {
  Message m = ut::reference_messages("ultramotion", {device, "x", "x", "x"})[0];
  m.header_version = 1;
  m.metadata.clear();
  m.timestamp = kTimestamp;
  return m;
}

Message our_status(const std::string& device) {
  Message m = um::igtl::make_status_message(device, 13, "loading models", "Warmup", -77);
  m.header_version = 1;
  return m;
}

void expect_lib_image(const LibImage& li, const std::string& device) {
  ASSERT_TRUE(li.ok) << li.error;
  const auto g = ut::u8_geometry();
  EXPECT_EQ(li.device, device);
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(li.dims[a], static_cast<int>(g.size[a]));
    EXPECT_NEAR(li.spacing[a], g.spacing[a], 1e-6);
    EXPECT_NEAR(li.origin[a], g.centre()[a], 1e-4) << "libOpenIGTLink origin = image centre";
    for (int r = 0; r < 3; ++r) EXPECT_NEAR(li.normals[r][a], g.direction[a][r], 1e-6);
  }
  EXPECT_EQ(li.scalar, ::igtl::ImageMessage::TYPE_UINT8);
  EXPECT_EQ(li.components, 1);
  EXPECT_EQ(li.coord, ::igtl::ImageMessage::COORDINATE_LPS);
  EXPECT_EQ((uint64_t{li.sec} << 32) | li.frac, kTimestamp);
  EXPECT_EQ(li.pixels, ut::u8_pixels());
}

void expect_our_status(const Message& m) {
  const auto* s = std::get_if<StatusContent>(&m.content);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->code, 13);
  EXPECT_EQ(s->subcode, -77);
  EXPECT_EQ(s->error_name, "Warmup");
  EXPECT_EQ(s->message, "loading models");
}

TEST(OpenIGTLinkInterop, LibClientReceivesFromOurServerInVersion1) {
  um::igtl::SlicerServerOptions so;
  so.port = 0;
  um::igtl::SlicerServer server(so);
  std::mutex mu;
  std::vector<Message> from_lib;
  server.set_message_callback([&](uint64_t, const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    from_lib.push_back(m);
  });
  ASSERT_TRUE(server.start().ok());
  LibImage li;
  LibStatus ls;
  std::string error;
  std::thread lib([&] {
    auto sock = ::igtl::ClientSocket::New();
    if (sock->ConnectToServer("127.0.0.1", server.port()) != 0) {
      error = "connect failed";
      return;
    }
    sock->SetReceiveTimeout(10000);
    // A version-1 peer speaks first, so the server answers in version 1 (no metadata).
    auto hello = lib_status("LibClient");
    sock->Send(hello->GetPackPointer(), hello->GetPackSize());
    for (int i = 0; i < 2 && error.empty(); ++i) lib_receive(sock, &li, &ls, error);
    sock->CloseSocket();
  });
  ASSERT_TRUE(ut::wait_until([&] {
    std::lock_guard<std::mutex> l(mu);
    return !from_lib.empty();
  }, 10000));
  EXPECT_EQ(server.client_stats().at(0).header_version, 1);
  Message img = our_image("BoneMask");
  img.header_version = 2;  // the server re-encodes per client: this one gets version 1
  img.metadata = {{"FrameId", "1"}};
  ASSERT_TRUE(server.broadcast(img).ok());
  ASSERT_TRUE(server.broadcast(our_status("UltraMotion")).ok());
  lib.join();
  server.stop();
  ASSERT_TRUE(error.empty()) << error;
  expect_lib_image(li, "BoneMask");
  ASSERT_TRUE(ls.ok);
  EXPECT_EQ(ls.device, "UltraMotion");
  EXPECT_EQ(ls.code, 13);
  EXPECT_EQ(ls.subcode, -77);
  EXPECT_EQ(ls.error_name, "Warmup");
  EXPECT_EQ(ls.text, "loading models");
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(from_lib.size(), 1u);
  EXPECT_EQ(from_lib[0].header_version, 1);
  EXPECT_EQ(from_lib[0].device_name, "LibClient");
  expect_our_status(from_lib[0]);
}

TEST(OpenIGTLinkInterop, LibServerFeedsOurClientAndDecodesOurMessages) {
  const uint16_t port = ut::free_port();
  auto lib_server = ::igtl::ServerSocket::New();
  ASSERT_EQ(lib_server->CreateServer(port), 0);
  LibImage li;
  LibStatus ls;
  std::string error;
  std::thread lib([&] {
    // 1) Our PlusClient connects: skip its version-2 hello, send an IMAGE and a STATUS.
    auto c1 = lib_server->WaitForConnection(10000);
    if (!c1) {
      error = "PlusClient did not connect";
      return;
    }
    auto header = ::igtl::MessageHeader::New();
    header->InitPack();
    c1->Receive(header->GetPackPointer(), header->GetPackSize());
    header->Unpack();
    c1->Skip(header->GetBodySizeToRead(), 1);
    auto img = lib_image("Image_Reference");
    c1->Send(img->GetPackPointer(), img->GetPackSize());
    auto st = lib_status("PlusServer");
    c1->Send(st->GetPackPointer(), st->GetPackSize());
    // 2) A raw connection of ours sends version-1 IMAGE + STATUS for libOpenIGTLink to decode.
    auto c2 = lib_server->WaitForConnection(10000);
    if (!c2) {
      error = "raw client did not connect";
      return;
    }
    c2->SetReceiveTimeout(10000);
    for (int i = 0; i < 2 && error.empty(); ++i) lib_receive(c2, &li, &ls, error);
    c2->CloseSocket();
    c1->CloseSocket();
  });

  std::mutex mu;
  std::vector<Message> images, others;
  um::igtl::PlusClientOptions o;
  o.port = port;
  o.backoff_initial_ms = 20;
  um::igtl::PlusClient client(o);
  client.set_message_callback([&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    others.push_back(m);
  });
  client.start([&](Message&& m) {
    std::lock_guard<std::mutex> l(mu);
    images.push_back(std::move(m));
  });
  ASSERT_TRUE(ut::wait_until([&] {
    std::lock_guard<std::mutex> l(mu);
    return images.size() == 1 && others.size() == 1;
  }, 10000)) << error;
  auto raw = um::igtl::Socket::connect("127.0.0.1", port, 5000);
  ASSERT_TRUE(raw.ok()) << raw.status().to_string();
  ASSERT_TRUE(ut::send_message(*raw, our_image("Image_Reference")).ok());
  ASSERT_TRUE(ut::send_message(*raw, our_status("UltraMotion")).ok());
  lib.join();
  client.stop();
  lib_server->CloseSocket();
  ASSERT_TRUE(error.empty()) << error;

  // What libOpenIGTLink sent, as our client decoded it.
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(images[0].header_version, 1);
  EXPECT_EQ(images[0].timestamp, kTimestamp);
  const auto& img = std::get<ImageContent>(images[0].content);
  EXPECT_EQ(img.pixels, ut::u8_pixels());
  ut::expect_geometry(img.geometry, ut::u8_geometry());
  EXPECT_EQ(others[0].device_name, "PlusServer");
  expect_our_status(others[0]);
  // What our codec sent, as libOpenIGTLink decoded it.
  expect_lib_image(li, "Image_Reference");
  ASSERT_TRUE(ls.ok);
  EXPECT_EQ(ls.text, "loading models");
  EXPECT_EQ(ls.subcode, -77);
}

}  // namespace
