// File: src/igtl/socket.h
// Purpose: the few POSIX (Linux) TCP operations OpenIGTLink needs, as RAII types returning
// Status. Every blocking call takes a timeout in milliseconds so the threads that use them can
// notice stop requests; nothing here raises SIGPIPE (MSG_NOSIGNAL).
// Usage:
//   UM_ASSIGN_OR_RETURN(Socket s, Socket::connect("127.0.0.1", 18944, 1000));
//   UM_RETURN_IF_ERROR(s.send_all(bytes.data(), bytes.size(), 2000));
//   Result<size_t> n = s.recv_some(buf, sizeof buf, 50);   // 0 = nothing within the timeout
//   UM_ASSIGN_OR_RETURN(Listener l, Listener::listen("127.0.0.1", 0));  // l.port(): ephemeral
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace um::igtl {

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { close(); }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Resolves host (name or dotted IPv4) and connects within timeout_ms. TCP_NODELAY is set:
  // OpenIGTLink messages are latency-sensitive and written whole.
  static Result<Socket> connect(const std::string& host, uint16_t port, int timeout_ms);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close();
  // Half-close for writing then close: lets queued bytes go out before the FIN.
  void shutdown_both();

  // Sends every byte or fails with kUnavailable: peer gone/reset, or "send timed out" when the
  // peer does not drain its receive buffer within timeout_ms.
  Status send_all(const void* data, size_t size, int timeout_ms);
  // Non-blocking attempt: returns bytes written (possibly 0 when the socket buffer is full).
  Result<size_t> send_some(const void* data, size_t size);
  // Waits up to timeout_ms for data. Returns bytes read (>0), 0 on timeout, kUnavailable when
  // the peer closed or the connection failed.
  Result<size_t> recv_some(void* data, size_t size, int timeout_ms);
  // Reads what is available right now without waiting (0 = nothing).
  Result<size_t> recv_now(void* data, size_t size) { return recv_some(data, size, 0); }

  // "127.0.0.1:50432" of the remote end ("" if unknown).
  std::string peer_name() const;

 private:
  int fd_ = -1;
};

class Listener {
 public:
  Listener() = default;
  Listener(Listener&&) noexcept = default;
  Listener& operator=(Listener&&) noexcept = default;

  // Binds and listens; port 0 picks a free ephemeral port (see port()). SO_REUSEADDR is set.
  static Result<Listener> listen(const std::string& host, uint16_t port, int backlog = 8);
  uint16_t port() const { return port_; }
  // Waits up to timeout_ms for a client; an invalid Socket (no error) on timeout.
  Result<Socket> accept(int timeout_ms);
  void close() { socket_.close(); }
  bool valid() const { return socket_.valid(); }

 private:
  Socket socket_;
  uint16_t port_ = 0;
};

// Parses "HOST:PORT" (port 1..65535). kInvalidArgument names the problem.
Status parse_host_port(const std::string& text, std::string& host, uint16_t& port);

}  // namespace um::igtl
