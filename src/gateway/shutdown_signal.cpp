// Signal handling for the long-running commands (shutdown_signal.h).
#include "gateway/shutdown_signal.h"

#include <atomic>
#include <csignal>
#include <thread>

namespace um::gateway {
namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal flag must be lock-free");

extern "C" void on_shutdown_signal(int sig) { g_signal.store(sig); }

}  // namespace

void install_shutdown_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_shutdown_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return so loops notice sooner
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a vanished peer must not kill the gateway
}

bool shutdown_requested() { return g_signal.load() != 0; }
int shutdown_signal_number() { return g_signal.load(); }

bool wait_for_shutdown(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!shutdown_requested()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        end - now, std::chrono::milliseconds(50)));
  }
  return true;
}

}  // namespace um::gateway
