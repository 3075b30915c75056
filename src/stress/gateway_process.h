// File: src/stress/gateway_process.h
// Purpose: the gateway under test as a CHILD PROCESS, so its resident memory, CPU time and GPU
// memory are its own and not mixed with the load generator's. stdout and stderr go to a log file;
// the child gets SIGKILL if the stress process dies (PR_SET_PDEATHSIG), so no gateway outlives it.
//
// Usage:
//   UM_ASSIGN_OR_RETURN(auto gw, GatewayProcess::spawn({exe, "run", "--config", yaml}, log));
//   if (!gw->alive()) ... gw->exit_code() ...;   // died on its own
//   int code = gw->stop(30.0);                    // SIGINT, then SIGKILL after 30 s
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace um::stress {

class GatewayProcess {
 public:
  // Starts argv[0] (searched on PATH when it has no '/'); kUnavailable when fork fails.
  static Result<std::unique_ptr<GatewayProcess>> spawn(const std::vector<std::string>& argv,
                                                       const std::string& log_path);
  ~GatewayProcess();  // SIGKILL + reap if still running
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  // Reaps the child if it exited (non-blocking).
  bool alive();
  // Exit status once it exited: the exit code, or 128 + signal number; -1 while running.
  int exit_code() const { return exit_code_; }
  // SIGINT (the gateway's orderly shutdown), waits up to timeout_s, then SIGKILL. Returns the
  // exit status as exit_code(). Idempotent.
  int stop(double timeout_s);
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

 private:
  GatewayProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  bool reap(int options);

  pid_t pid_ = -1;
  std::string log_path_;
  int exit_code_ = -1;
  bool exited_ = false;
};

// The path of the running executable (/proc/self/exe), for `<this binary> run ...`.
Result<std::string> self_executable();
// The last max_bytes of a text file ("" when unreadable), for failure messages.
std::string file_tail(const std::string& path, size_t max_bytes);
// n distinct TCP ports on 127.0.0.1 that were free a moment ago (all bound to port 0 at once,
// then released; another process could take one in between, which the gateway would report).
Result<std::vector<int>> pick_free_ports(size_t n);

}  // namespace um::stress
