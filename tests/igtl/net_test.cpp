// Loopback tests of PlusClient and SlicerServer against each other and against raw peers:
// delivery with geometry/metadata, burst draining, device filter, stall detection, reconnects
// with back-off, per-client drop-oldest queues, header-version following, clean stop().
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "igtl/plus_client.h"
#include "igtl/slicer_server.h"
#include "net_test_util.h"

namespace um::igtl {
namespace {

using test::free_port;
using test::read_message;
using test::send_message;
using test::test_frame;
using test::wait_until;

// Collects what a PlusClient delivers.
struct Sink {
  std::mutex mu;
  std::vector<Message> images;
  std::vector<Message> others;
  std::vector<LinkState> states;
  PlusClient::ImageCallback image_cb() {
    return [this](Message&& m) {
      std::lock_guard<std::mutex> l(mu);
      images.push_back(std::move(m));
    };
  }
  PlusClient::StateCallback state_cb() {
    return [this](LinkState s, const std::string&) {
      std::lock_guard<std::mutex> l(mu);
      states.push_back(s);
    };
  }
  size_t image_count() {
    std::lock_guard<std::mutex> l(mu);
    return images.size();
  }
  bool saw(LinkState s) {
    std::lock_guard<std::mutex> l(mu);
    return std::find(states.begin(), states.end(), s) != states.end();
  }
};

PlusClientOptions client_options(uint16_t port, const std::string& filter = "Image_Reference") {
  PlusClientOptions o;
  o.port = port;
  o.device_filter = filter;
  o.backoff_initial_ms = 20;
  o.backoff_max_ms = 200;
  return o;
}

TEST(IgtlNet, ServerToClientImageWithGeometryAndMetadata) {
  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  ASSERT_TRUE(server.start().ok());
  Sink sink;
  PlusClient client(client_options(server.port(), "BoneMask"));
  client.start(sink.image_cb(), sink.state_cb());
  // The client's version-2 hello tells the server to answer with version-2 headers.
  ASSERT_TRUE(wait_until([&] {
    auto st = server.client_stats();
    return st.size() == 1 && st[0].received >= 1;
  }));
  EXPECT_EQ(server.client_stats()[0].header_version, 2);
  Message sent = test_frame("BoneMask", 33, 17, 5);
  sent.metadata.push_back({"State", "VISIBLE"});
  ASSERT_TRUE(server.broadcast(sent).ok());
  ASSERT_TRUE(wait_until([&] { return sink.image_count() == 1; }));
  client.stop();
  server.stop();
  const Message& got = sink.images[0];
  EXPECT_EQ(got.header_version, 2);
  EXPECT_EQ(got.timestamp, sent.timestamp);
  ASSERT_NE(got.find_metadata("State"), nullptr);
  EXPECT_EQ(*got.find_metadata("State"), "VISIBLE");
  EXPECT_EQ(*got.find_metadata("FrameId"), "5");
  const auto& a = std::get<ImageContent>(got.content);
  const auto& b = std::get<ImageContent>(sent.content);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_EQ(a.geometry.size, b.geometry.size);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.geometry.spacing[i], b.geometry.spacing[i], 1e-6);
    EXPECT_NEAR(a.geometry.origin[i], b.geometry.origin[i], 1e-5);
  }
  EXPECT_TRUE(sink.saw(LinkState::kStreaming));
  EXPECT_EQ(client.state(), LinkState::kStopped);
  EXPECT_EQ(client.counters().server_header_version, 2);
}

TEST(IgtlNet, BurstDeliversNewestMatchingFrameOnly) {
  auto listener = Listener::listen("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  Sink sink;
  std::atomic<int> others{0};
  PlusClient client(client_options(listener->port()));
  client.set_message_callback([&](const Message&) { ++others; });
  client.start(sink.image_cb(), sink.state_cb());
  Socket peer;
  ASSERT_TRUE(wait_until([&] {
    auto s = listener->accept(10);
    if (s.ok() && s->valid()) peer = std::move(s).value();
    return peer.valid();
  }));
  // One write: 5 frames of the wanted device, 2 of another, a keep-alive STATUS.
  std::vector<uint8_t> burst;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(encode_into(test_frame("Image_Reference", 16, 8, i), burst).ok());
    if (i == 2) {
      ASSERT_TRUE(encode_into(test_frame("Image_Other", 4, 4, 100), burst).ok());
    }
  }
  ASSERT_TRUE(encode_into(test_frame("Image_Other", 4, 4, 101), burst).ok());
  ASSERT_TRUE(encode_into(make_status_message("KeepAlive", 1, ""), burst).ok());
  ASSERT_TRUE(peer.send_all(burst.data(), burst.size(), 5000).ok());
  ASSERT_TRUE(wait_until([&] {
    auto c = client.counters();
    return c.images + c.superseded == 5 && c.filtered_out == 2 && c.other_messages == 1;
  }));
  client.stop();
  const auto c = client.counters();
  EXPECT_GE(c.superseded, 1u);  // the burst arrived in one read on loopback
  EXPECT_EQ(*sink.images.back().find_metadata("FrameId"), "4");
  EXPECT_EQ(others.load(), 3);  // filtered images and the STATUS go to the message callback
}

TEST(IgtlNet, StallIsReportedAndClearedByTheNextFrame) {
  auto listener = Listener::listen("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  Sink sink;
  PlusClientOptions o = client_options(listener->port());
  o.stall_timeout_ms = 100;
  PlusClient client(o);
  client.start(sink.image_cb(), sink.state_cb());
  Socket peer;
  ASSERT_TRUE(wait_until([&] {
    auto s = listener->accept(10);
    if (s.ok() && s->valid()) peer = std::move(s).value();
    return peer.valid();
  }));
  ASSERT_TRUE(send_message(peer, test_frame("Image_Reference", 8, 8, 1)).ok());
  ASSERT_TRUE(wait_until([&] { return client.state() == LinkState::kStreaming; }));
  // Keep-alives only: the link is up but frames stopped -> stalled.
  ASSERT_TRUE(wait_until([&] {
    send_message(peer, make_status_message("KeepAlive", 1, "")).ignore_error();
    return client.state() == LinkState::kStalled;
  }));
  EXPECT_EQ(client.counters().stalls, 1u);
  ASSERT_TRUE(send_message(peer, test_frame("Image_Reference", 8, 8, 2)).ok());
  ASSERT_TRUE(wait_until([&] { return client.state() == LinkState::kStreaming; }));
  client.stop();
  EXPECT_TRUE(sink.saw(LinkState::kStalled));
  EXPECT_EQ(sink.image_count(), 2u);
}

TEST(IgtlNet, ReconnectsWithBackoffForever) {
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  Sink sink;
  PlusClient client(client_options(port));
  client.start(sink.image_cb(), sink.state_cb());
  // Nobody listens yet: attempts fail and are counted.
  ASSERT_TRUE(wait_until([&] { return client.counters().connect_failures >= 2; }));
  EXPECT_EQ(client.state(), LinkState::kConnecting);
  auto listener = Listener::listen("127.0.0.1", port);
  ASSERT_TRUE(listener.ok()) << listener.status().to_string();
  for (int round = 0; round < 2; ++round) {
    Socket peer;
    ASSERT_TRUE(wait_until([&] {
      auto s = listener->accept(10);
      if (s.ok() && s->valid()) peer = std::move(s).value();
      return peer.valid();
    }));
    // The first thing a (re)connected client sends is the version-2 hello.
    StreamReader reader;
    auto hello = read_message(peer, reader);
    ASSERT_TRUE(hello.ok()) << hello.status().to_string();
    EXPECT_EQ(hello->header_version, 2);
    EXPECT_EQ(hello->type, "STATUS");
    ASSERT_TRUE(send_message(peer, test_frame("Image_Reference", 8, 8, round)).ok());
    ASSERT_TRUE(wait_until([&] { return sink.image_count() == size_t(round + 1); }));
    peer.close();  // server drops the connection
  }
  client.stop();
  const auto c = client.counters();
  EXPECT_EQ(c.connects, 2u);
  EXPECT_EQ(c.reconnects, 1u);
}

TEST(IgtlNet, SlowClientOnlyLosesItsOwnFrames) {
  SlicerServerOptions so;
  so.port = 0;
  so.queue_capacity = 4;
  SlicerServer server(so);
  ASSERT_TRUE(server.start().ok());
  // A client that connects and never reads.
  auto slow = Socket::connect("127.0.0.1", server.port(), 2000);
  ASSERT_TRUE(slow.ok());
  Sink sink;
  PlusClient fast(client_options(server.port(), "BoneMask"));
  fast.start(sink.image_cb(), sink.state_cb());
  ASSERT_TRUE(wait_until([&] { return server.client_count() == 2; }));
  const int kFrames = 120;  // 120 x 235 KB: far beyond the slow client's socket buffers
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(server.broadcast(test_frame("BoneMask", 558, 422, i)).ok());
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // The fast client still gets the newest frame although the slow one is stuck.
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard<std::mutex> l(sink.mu);
    return !sink.images.empty() &&
           *sink.images.back().find_metadata("FrameId") == std::to_string(kFrames - 1);
  }, 10000));
  bool found_slow = false;
  for (const auto& st : server.client_stats()) {
    if (st.received != 0) continue;  // the raw socket never sent a hello
    found_slow = true;
    EXPECT_GT(st.dropped, 0u);
    EXPECT_EQ(st.queued, so.queue_capacity);
    EXPECT_EQ(st.dropped + st.sent + st.queued + 1, uint64_t{kFrames})
        << "each frame is written, queued, in flight (one) or dropped";
  }
  EXPECT_TRUE(found_slow);
  fast.stop();
  server.stop();  // must not hang on the stuck client
  EXPECT_EQ(server.client_count(), 0u);
}

TEST(IgtlNet, RepliesInTheClientsHeaderVersion) {
  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  ASSERT_TRUE(server.start().ok());
  auto v1 = Socket::connect("127.0.0.1", server.port(), 2000);
  auto v2 = Socket::connect("127.0.0.1", server.port(), 2000);
  ASSERT_TRUE(v1.ok() && v2.ok());
  Message hello1 = make_status_message("Old", 1, "hi");
  hello1.header_version = 1;
  Message hello2 = make_status_message("New", 1, "hi");
  ASSERT_TRUE(send_message(*v1, hello1).ok());
  ASSERT_TRUE(send_message(*v2, hello2).ok());
  ASSERT_TRUE(wait_until([&] {
    auto st = server.client_stats();
    return st.size() == 2 && st[0].received == 1 && st[1].received == 1;
  }));
  Message m = test_frame("BoneMask", 10, 10, 3);
  ASSERT_TRUE(server.broadcast(m).ok());
  StreamReader r1, r2;
  auto got1 = read_message(*v1, r1);
  auto got2 = read_message(*v2, r2);
  ASSERT_TRUE(got1.ok() && got2.ok());
  EXPECT_EQ(got1->header_version, 1);
  EXPECT_TRUE(got1->metadata.empty());
  EXPECT_EQ(got2->header_version, 2);
  EXPECT_EQ(*got2->find_metadata("FrameId"), "3");
  EXPECT_EQ(std::get<ImageContent>(got1->content).pixels,
            std::get<ImageContent>(m.content).pixels);
  server.stop();
}

TEST(IgtlNet, BadClientBytesCloseOnlyThatClient) {
  SlicerServerOptions so;
  so.port = 0;
  SlicerServer server(so);
  ASSERT_TRUE(server.start().ok());
  auto good = Socket::connect("127.0.0.1", server.port(), 2000);
  auto bad = Socket::connect("127.0.0.1", server.port(), 2000);
  ASSERT_TRUE(good.ok() && bad.ok());
  ASSERT_TRUE(wait_until([&] { return server.client_count() == 2; }));
  std::vector<uint8_t> garbage(100, 0xAB);  // not a header: framing lost -> close
  ASSERT_TRUE(bad->send_all(garbage.data(), garbage.size(), 2000).ok());
  ASSERT_TRUE(wait_until([&] { return server.client_count() == 1; }));
  ASSERT_TRUE(wait_until([&] { return server.counters().disconnected == 1; }));
  ASSERT_TRUE(server.broadcast(make_status_message("UltraMotion", 1, "still here")).ok());
  StreamReader r;
  auto got = read_message(*good, r);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(std::get<StatusContent>(got->content).message, "still here");
  server.stop();
  EXPECT_EQ(server.counters().disconnected, 2u);  // stop() ends the good one too
}

TEST(IgtlNet, MaxClientsAndStopClosesEverything) {
  SlicerServerOptions so;
  so.port = 0;
  so.max_clients = 1;
  SlicerServer server(so);
  ASSERT_TRUE(server.start().ok());
  auto a = Socket::connect("127.0.0.1", server.port(), 2000);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(wait_until([&] { return server.client_count() == 1; }));
  auto b = Socket::connect("127.0.0.1", server.port(), 2000);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(wait_until([&] { return server.counters().refused == 1; }));
  server.stop();
  // The accepted client sees the close.
  uint8_t buf[16];
  Result<size_t> n = size_t{0};
  ASSERT_TRUE(wait_until([&] {
    n = a->recv_some(buf, sizeof buf, 10);
    return !n.ok();
  }));
  EXPECT_EQ(n.status().code(), um::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace um::igtl
