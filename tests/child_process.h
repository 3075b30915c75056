// File: tests/child_process.h
// Purpose: run a child process (the ultramotion CLI, a pyigtl peer script) from a test with a
// hard time limit, so the test can drive its C++ side while the child runs, signal it, then
// collect the exit code and output. The Python interpreter is $UM_PYTHON or python3 on PATH.
// Usage:
//   um::test::ChildProcess p({um::test::cli_path().string(), "igtl-dump", ...});
//   EXPECT_EQ(p.wait(std::chrono::seconds(20)), 0) << p.output();
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace um::test {

inline std::string python_exe() {
  const char* env = std::getenv("UM_PYTHON");
  return env && *env ? env : "python3";
}

// True when `import <module>` works in the test interpreter.
inline bool python_has_module(const std::string& module) {
  const std::string cmd = python_exe() + " -c 'import " + module + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

class ChildProcess {
 public:
  // Starts argv[0] (searched on PATH); stdout+stderr go to `log`, or, when `log` is empty, to a
  // temporary file removed with this object.
  explicit ChildProcess(std::vector<std::string> argv_s, std::filesystem::path log = {})
      : log_(std::move(log)), own_log_(log_.empty()) {
    if (own_log_) {
      static std::atomic<int> counter{0};
      log_ = std::filesystem::temp_directory_path() /
             ("um_child_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".log");
    }
    // Everything the child needs is prepared before fork(): other test threads may hold the
    // allocator lock at that moment, so the child must not allocate.
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log_path = log_.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (own_log_) {
      std::error_code ec;
      std::filesystem::remove(log_, ec);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void signal(int sig) {
    if (pid_ > 0 && !done_) ::kill(pid_, sig);
  }
  bool running() {
    if (done_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      done_ = true;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }
  // Exit code (128 + signal if killed by one), or -1 after killing it at the timeout.
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        done_ = true;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return code_;
  }
  std::string output() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
  int code_ = -1;
  std::filesystem::path log_;
  bool own_log_ = false;
};

}  // namespace um::test
