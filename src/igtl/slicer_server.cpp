// Slicer-facing server: accept thread + one thread per client, bounded drop-oldest queues.
// Why a thread per client rather than one poll loop: a client count of 1-3 (Slicer, a recorder,
// igtl-dump) makes threads cheap, and each client's blocking state stays local and simple.
#include "igtl/slicer_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <deque>

#include "core/log.h"
#include "igtl/codec.h"

namespace um::igtl {
namespace {
constexpr int kPollMs = 100;
constexpr size_t kRecvChunk = 1 << 16;
using Wire = std::shared_ptr<const std::vector<uint8_t>>;
}  // namespace

struct SlicerServer::Client {
  uint64_t id = 0;
  Socket socket;
  std::string peer;
  int wake_fd = -1;                       // eventfd: "queue changed" / "stop"
  std::atomic<uint16_t> header_version{2};
  std::atomic<bool> finished{false};
  std::thread thread;

  std::mutex mu;
  std::deque<Wire> queue;                 // guarded by mu
  uint64_t sent = 0, dropped = 0, received = 0, rejected = 0;  // guarded by mu

  ~Client() {
    if (wake_fd >= 0) ::close(wake_fd);
  }
  void wake() const {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof one);
  }
};

SlicerServer::SlicerServer(SlicerServerOptions options) : options_(std::move(options)) {}

SlicerServer::~SlicerServer() { stop(); }

Status SlicerServer::start() {
  if (accept_thread_.joinable()) return failed_precondition("server already started");
  if (options_.queue_capacity == 0) return invalid_argument("queue_capacity must be >= 1");
  auto l = Listener::listen(options_.host, options_.port);
  if (!l.ok()) return l.status();
  listener_ = std::move(l).value();
  port_ = listener_.port();
  stop_ = false;
  accept_thread_ = std::thread([this] { accept_loop(); });
  spdlog::info("igtl server listening on {}:{}", options_.host, port_);
  return Status::Ok();
}

void SlicerServer::stop() {
  stop_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::shared_ptr<Client>> clients;
  {
    std::lock_guard<std::mutex> lock(mu_);
    clients.swap(clients_);
  }
  for (auto& c : clients) {
    c->wake();
    if (c->thread.joinable()) c->thread.join();
    c->socket.close();
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.disconnected;
    std::lock_guard<std::mutex> clock(c->mu);
    counters_.dropped += c->dropped;
    counters_.sent += c->sent;
  }
  listener_.close();
}

void SlicerServer::accept_loop() {
  while (!stop_) {
    reap_finished();
    auto s = listener_.accept(kPollMs);
    if (!s.ok()) {
      spdlog::warn("igtl server: {}", s.status().message());
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
      continue;
    }
    if (!s->valid()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (clients_.size() >= options_.max_clients) {
      ++counters_.refused;
      spdlog::warn("igtl server: refusing {} (max {} clients)", s->peer_name(), options_.max_clients);
      continue;  // the Socket closes as it goes out of scope
    }
    auto c = std::make_shared<Client>();
    c->id = next_id_++;
    c->socket = std::move(s).value();
    c->peer = c->socket.peer_name();
    c->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->header_version = options_.default_header_version;
    ++counters_.accepted;
    spdlog::info("igtl server: client {} connected from {}", c->id, c->peer);
    clients_.push_back(c);
    c->thread = std::thread([this, c] { client_loop(c); });
  }
}

// Joins and forgets clients whose connection ended, folding their counts into the totals.
void SlicerServer::reap_finished() {
  std::list<std::shared_ptr<Client>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = clients_.begin(); it != clients_.end();) {
      if ((*it)->finished) {
        done.push_back(*it);
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : done) {
    if (c->thread.joinable()) c->thread.join();
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.disconnected;
    std::lock_guard<std::mutex> clock(c->mu);
    counters_.dropped += c->dropped;
    counters_.sent += c->sent;
  }
}

void SlicerServer::client_loop(std::shared_ptr<Client> c) {
  StreamReader reader(options_.decode);
  std::vector<uint8_t> buf(kRecvChunk);
  Wire inflight;        // the message being written; never dropped once started
  size_t offset = 0;
  std::string end_reason = "server stopping";
  while (!stop_) {
    if (!inflight) {
      std::lock_guard<std::mutex> lock(c->mu);
      if (!c->queue.empty()) {
        inflight = std::move(c->queue.front());
        c->queue.pop_front();
        offset = 0;
      }
    }
    pollfd fds[2] = {{c->socket.fd(), static_cast<short>(POLLIN | (inflight ? POLLOUT : 0)), 0},
                     {c->wake_fd, POLLIN, 0}};
    int r = ::poll(fds, 2, kPollMs);
    if (r < 0) {
      if (errno == EINTR) continue;
      end_reason = "poll failed";
      break;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t n = ::read(c->wake_fd, &v, sizeof v);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      auto n = c->socket.recv_now(buf.data(), buf.size());
      if (!n.ok()) {
        end_reason = n.status().message();
        break;
      }
      reader.feed(buf.data(), *n);
      Message m;
      bool close_now = false;
      for (;;) {
        ReadOutcome o = reader.next(m);
        if (o.state == ReadState::kNeedMore) break;
        if (o.state == ReadState::kRejected) {
          {
            std::lock_guard<std::mutex> lock(c->mu);
            ++c->rejected;
          }
          spdlog::warn("igtl server: client {} sent a bad message ({}): {}", c->id,
                       reject_reason_name(o.reason), o.status.message());
          if (o.close_connection) {
            close_now = true;
            end_reason = o.status.message();
            break;
          }
          continue;
        }
        {
          std::lock_guard<std::mutex> lock(c->mu);
          ++c->received;
        }
        // Reply in the header version the client speaks (PlusServer-compatible behaviour).
        c->header_version = o.header_version;
        // Called without locks held: the callback may reply with send_to().
        if (on_message_) on_message_(c->id, m);
      }
      if (close_now) break;
    }
    if (inflight && (fds[0].revents & POLLOUT)) {
      auto n = c->socket.send_some(inflight->data() + offset, inflight->size() - offset);
      if (!n.ok()) {
        end_reason = n.status().message();
        break;
      }
      offset += *n;
      if (offset == inflight->size()) {
        inflight.reset();
        std::lock_guard<std::mutex> lock(c->mu);
        ++c->sent;
      }
    }
  }
  spdlog::info("igtl server: client {} ({}) disconnected: {}", c->id, c->peer, end_reason);
  c->socket.close();
  c->finished = true;
}

Status SlicerServer::enqueue(const Message& message, uint64_t only_client) {
  std::vector<std::shared_ptr<Client>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : clients_)
      if (!c->finished && (only_client == 0 || c->id == only_client)) targets.push_back(c);
    if (only_client == 0) ++counters_.broadcasts;
  }
  if (only_client != 0 && targets.empty()) {
    return not_found("no connected client with id " + std::to_string(only_client));
  }
  // Encode once per header version in use; clients share the bytes.
  Wire encoded[3];
  for (auto& c : targets) {
    const uint16_t v = c->header_version.load() == 1 ? 1 : 2;
    if (!encoded[v]) {
      auto bytes = std::make_shared<std::vector<uint8_t>>();
      UM_RETURN_IF_ERROR(encode_as(message, v, *bytes));
      encoded[v] = std::move(bytes);
    }
    {
      std::lock_guard<std::mutex> lock(c->mu);
      if (c->queue.size() >= options_.queue_capacity) {
        c->queue.pop_front();
        ++c->dropped;
      }
      c->queue.push_back(encoded[v]);
    }
    c->wake();
  }
  if (targets.empty()) {
    // Validate even with nobody listening, so a bad message is reported at once.
    std::vector<uint8_t> scratch;
    UM_RETURN_IF_ERROR(encode_as(message, options_.default_header_version, scratch));
  }
  return Status::Ok();
}

Status SlicerServer::broadcast(const Message& message) { return enqueue(message, 0); }

Status SlicerServer::send_to(uint64_t client_id, const Message& message) {
  if (client_id == 0) return invalid_argument("client id 0 is not a client");
  return enqueue(message, client_id);
}

size_t SlicerServer::client_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto& c : clients_) n += c->finished ? 0 : 1;
  return n;
}

std::vector<ClientStats> SlicerServer::client_stats() const {
  std::vector<ClientStats> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : clients_) {
    if (c->finished) continue;
    std::lock_guard<std::mutex> clock(c->mu);
    out.push_back({c->id, c->peer, c->header_version.load(), c->sent, c->dropped, c->received,
                   c->rejected, c->queue.size()});
  }
  return out;
}

ServerCounters SlicerServer::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  ServerCounters total = counters_;
  for (auto& c : clients_) {
    std::lock_guard<std::mutex> clock(c->mu);
    total.dropped += c->dropped;
    total.sent += c->sent;
  }
  return total;
}

}  // namespace um::igtl
