// POSIX TCP sockets (Linux). poll() provides every timeout; MSG_NOSIGNAL keeps a vanished peer
// from killing the process with SIGPIPE.
#include "igtl/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.h"

namespace um::igtl {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

bool set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// Waits for `events` on fd; returns >0 ready, 0 timeout, <0 error (errno set). EINTR retried.
int wait_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  const int64_t deadline = monotonic_ns() + int64_t{timeout_ms} * 1000000;
  for (;;) {
    int r = ::poll(&p, 1, timeout_ms);
    if (r >= 0 || errno != EINTR) return r;
    timeout_ms = static_cast<int>(std::max<int64_t>(0, (deadline - monotonic_ns()) / 1000000));
  }
}

Result<sockaddr_in> resolve(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (host.empty() || host == "0.0.0.0") {
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    return addr;
  }
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1) return addr;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res) {
    return unavailable("cannot resolve host '" + host + "': " + gai_strerror(rc));
  }
  addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
  freeaddrinfo(res);
  return addr;
}

}  // namespace

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Socket::shutdown_both() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Result<Socket> Socket::connect(const std::string& host, uint16_t port, int timeout_ms) {
  auto addr = resolve(host, port);
  if (!addr.ok()) return addr.status();
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return unavailable("socket(): " + errno_text(errno));
  if (!set_nonblocking(s.fd())) return unavailable("fcntl(O_NONBLOCK): " + errno_text(errno));
  const std::string where = host + ":" + std::to_string(port);
  int rc = ::connect(s.fd(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_in));
  if (rc != 0 && errno != EINPROGRESS) return unavailable("connect " + where + ": " + errno_text(errno));
  if (rc != 0) {
    int w = wait_fd(s.fd(), POLLOUT, timeout_ms);
    if (w == 0) return unavailable("connect " + where + ": timed out");
    if (w < 0) return unavailable("connect " + where + ": " + errno_text(errno));
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return unavailable("connect " + where + ": " + errno_text(err));
  }
  int one = 1;
  setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

Status Socket::send_all(const void* data, size_t size, int timeout_ms) {
  const auto* p = static_cast<const uint8_t*>(data);
  const int64_t deadline = monotonic_ns() + int64_t{timeout_ms} * 1000000;
  while (size > 0) {
    auto n = send_some(p, size);
    if (!n.ok()) return n.status();
    p += *n;
    size -= *n;
    if (size == 0) break;
    const int64_t left_ms = (deadline - monotonic_ns()) / 1000000;
    if (left_ms <= 0) return unavailable("send timed out with " + std::to_string(size) + " bytes left");
    if (wait_fd(fd_, POLLOUT, static_cast<int>(left_ms)) < 0) {
      return unavailable("poll: " + errno_text(errno));
    }
  }
  return Status::Ok();
}

Result<size_t> Socket::send_some(const void* data, size_t size) {
  if (fd_ < 0) return unavailable("socket is closed");
  for (;;) {
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return unavailable("send: " + errno_text(errno));
  }
}

Result<size_t> Socket::recv_some(void* data, size_t size, int timeout_ms) {
  if (fd_ < 0) return unavailable("socket is closed");
  if (timeout_ms > 0) {
    int w = wait_fd(fd_, POLLIN, timeout_ms);
    if (w == 0) return size_t{0};
    if (w < 0) return unavailable("poll: " + errno_text(errno));
  }
  for (;;) {
    ssize_t n = ::recv(fd_, data, size, MSG_DONTWAIT);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return unavailable("peer closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return unavailable("recv: " + errno_text(errno));
  }
}

std::string Socket::peer_name() const {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (fd_ < 0 || getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char ip[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
}

Result<Listener> Listener::listen(const std::string& host, uint16_t port, int backlog) {
  auto addr = resolve(host, port);
  if (!addr.ok()) return addr.status();
  Listener l;
  l.socket_ = Socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!l.socket_.valid()) return unavailable("socket(): " + errno_text(errno));
  int one = 1;
  setsockopt(l.socket_.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const std::string where = host + ":" + std::to_string(port);
  if (::bind(l.socket_.fd(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_in)) != 0) {
    return unavailable("bind " + where + ": " + errno_text(errno));
  }
  if (::listen(l.socket_.fd(), backlog) != 0) return unavailable("listen " + where + ": " + errno_text(errno));
  if (!set_nonblocking(l.socket_.fd())) return unavailable("fcntl(O_NONBLOCK): " + errno_text(errno));
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  getsockname(l.socket_.fd(), reinterpret_cast<sockaddr*>(&bound), &len);
  l.port_ = ntohs(bound.sin_port);
  return l;
}

Result<Socket> Listener::accept(int timeout_ms) {
  if (!socket_.valid()) return unavailable("listener is closed");
  int w = wait_fd(socket_.fd(), POLLIN, timeout_ms);
  if (w == 0) return Socket();
  if (w < 0) return unavailable("poll: " + errno_text(errno));
  int fd = ::accept4(socket_.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
      return Socket();
    }
    return unavailable("accept: " + errno_text(errno));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return Socket(fd);
}

Status parse_host_port(const std::string& text, std::string& host, uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return invalid_argument("expected HOST:PORT, got '" + text + "'");
  }
  const std::string p = text.substr(colon + 1);
  long v = 0;
  for (char c : p) {
    if (c < '0' || c > '9' || v > 65535) return invalid_argument("bad port in '" + text + "'");
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return invalid_argument("port must be 1..65535 in '" + text + "'");
  host = text.substr(0, colon);
  port = static_cast<uint16_t>(v);
  return Status::Ok();
}

}  // namespace um::igtl
