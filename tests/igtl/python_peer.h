// File: tests/igtl/python_peer.h
// Purpose: runs child processes (the tests/igtl/*.py pyigtl peers, the ultramotion CLI) with a
// hard time limit, so a test can drive its C++ side while the child runs, then collect the exit
// code and output. The Python interpreter is $UM_PYTHON or python3 on PATH.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace um::igtl::test {

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
  // Starts argv[0] (searched on PATH) with its arguments; stdout+stderr go to a log file read
  // by output().
  explicit ChildProcess(std::vector<std::string> argv_s) {
    log_ = std::filesystem::temp_directory_path() /
           ("um_igtl_child_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) +
            ".log");
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
    std::error_code ec;
    std::filesystem::remove(log_, ec);
  }

  // Exit code, or -1 if it had to be killed after timeout_ms.
  int wait(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        done_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    done_ = true;
    return -1;
  }

  std::string output() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  pid_t pid_ = -1;
  bool done_ = false;
  std::filesystem::path log_;
};

// `python -u script args...`
class PythonPeer : public ChildProcess {
 public:
  PythonPeer(const std::filesystem::path& script, const std::vector<std::string>& args)
      : ChildProcess(make_argv(script, args)) {}

 private:
  static std::vector<std::string> make_argv(const std::filesystem::path& script,
                                            const std::vector<std::string>& args) {
    std::vector<std::string> v = {python_exe(), "-u", script.string()};
    v.insert(v.end(), args.begin(), args.end());
    return v;
  }
};

}  // namespace um::igtl::test
