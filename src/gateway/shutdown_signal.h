// File: src/gateway/shutdown_signal.h
// Purpose: SIGINT/SIGTERM -> an orderly stop. The handler only sets a lock-free atomic flag
// (async-signal-safe); the command's main loop polls it and then stops the gateway in order, so
// the recording is completed and sockets are closed.
// Usage:
//   install_shutdown_handlers();
//   while (!wait_for_shutdown(std::chrono::milliseconds(200))) { ...periodic work... }
#pragma once

#include <chrono>

namespace um::gateway {

void install_shutdown_handlers();
// Sleeps up to `timeout` (in short steps); true once SIGINT or SIGTERM arrived.
bool wait_for_shutdown(std::chrono::milliseconds timeout);
bool shutdown_requested();
// The signal received (0 if none), for the log.
int shutdown_signal_number();

}  // namespace um::gateway
