// File: src/igtl/slicer_server.h
// Purpose: the sending end of the gateway: an OpenIGTLink server that 3D Slicer (and other
// OpenIGTLink clients) connect to. Several clients at once; broadcast() never blocks the caller.
//
// Design: an accept thread plus one thread per client. Each client has its own bounded send
// queue (capacity queue_capacity, default 8); when full the OLDEST queued message is dropped and
// counted for that client, so a slow or stuck client only loses its own frames and never
// delays the pipeline or other clients. A message already partly written is always finished
// (dropping mid-message would break the framing). The per-client thread polls its socket for
// readable data (messages from the client) and writability, and an eventfd for new queue items.
//
// Header version: replies use the header version of the last message the client sent; until it
// sends one, default_header_version (2: Slicer needs metadata; a version-1-only peer such as
// libOpenIGTLink 1.11 should send any message first, as PlusServer expects too). Each broadcast
// is encoded once per header version and shared by all clients.
// Incoming messages are validated by a StreamReader; a closing rejection disconnects that client.
//
// Usage:
//   SlicerServerOptions o; o.port = 18945;
//   SlicerServer server(o);
//   UM_RETURN_IF_ERROR(server.start());            // server.port() = bound port (0 -> ephemeral)
//   server.broadcast(make_image_message("BoneMask", geom, ScalarType::kUint8, 1, mask, ts));
//   server.broadcast(make_status_message("UltraMotion", 1, "VISIBLE"));
//   server.stop();                                  // joins all threads, closes all sockets
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "igtl/message.h"
#include "igtl/socket.h"
#include "igtl/stream_reader.h"

namespace um::igtl {

struct SlicerServerOptions {
  std::string host = "127.0.0.1";   // "0.0.0.0" to accept remote Slicer instances
  uint16_t port = 18945;            // 0 = ephemeral (tests)
  size_t queue_capacity = 8;        // per client; drop-oldest when full
  size_t max_clients = 16;          // further connections are accepted and closed at once
  uint16_t default_header_version = 2;
  DecodeOptions decode;             // for messages clients send us
};

struct ClientStats {
  uint64_t id = 0;
  std::string peer;                 // "127.0.0.1:50432"
  uint16_t header_version = 0;      // what we reply with now
  uint64_t sent = 0;                // messages fully written
  uint64_t dropped = 0;             // queue-full drops (oldest first)
  uint64_t received = 0;            // valid messages from the client
  uint64_t rejected = 0;            // invalid messages from the client
  size_t queued = 0;
};

struct ServerCounters {
  uint64_t accepted = 0;
  uint64_t refused = 0;             // over max_clients
  uint64_t disconnected = 0;        // connections that ended (peer, bad bytes, or stop())
  uint64_t broadcasts = 0;
  uint64_t dropped = 0;             // sum over clients, including disconnected ones
  uint64_t sent = 0;
};

class SlicerServer {
 public:
  // (client id, message) for every valid message a client sends (on that client's thread).
  using MessageCallback = std::function<void(uint64_t client_id, const Message&)>;

  explicit SlicerServer(SlicerServerOptions options);
  ~SlicerServer();  // stop()
  SlicerServer(const SlicerServer&) = delete;
  SlicerServer& operator=(const SlicerServer&) = delete;

  void set_message_callback(MessageCallback cb) { on_message_ = std::move(cb); }  // before start
  // Binds and starts the accept thread. kUnavailable if the port cannot be bound.
  Status start();
  void stop();
  uint16_t port() const { return port_; }

  // Queues `message` for every connected client, in each client's header version. Never
  // blocks on the network. kInvalidArgument if the message cannot be encoded.
  Status broadcast(const Message& message);
  // Queues for one client only (e.g. a reply to its GET_STATUS).
  Status send_to(uint64_t client_id, const Message& message);

  size_t client_count() const;
  std::vector<ClientStats> client_stats() const;
  ServerCounters counters() const;

 private:
  struct Client;
  void accept_loop();
  void client_loop(std::shared_ptr<Client> client);
  void reap_finished();
  Status enqueue(const Message& message, uint64_t only_client);

  SlicerServerOptions options_;
  MessageCallback on_message_;
  Listener listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::list<std::shared_ptr<Client>> clients_;  // guarded by mu_
  ServerCounters counters_;                     // guarded by mu_
  uint64_t next_id_ = 1;                        // guarded by mu_
};

}  // namespace um::igtl
