// File: tests/igtl/python_peer.h
// Purpose: runs tests/igtl/*.py peers (pyigtl) as child processes with a hard time limit, so an
// interop test can drive its C++ side while the Python side runs, then collect the exit code
// and output. The interpreter is $UM_PYTHON or python3 on PATH.
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

class PythonPeer {
 public:
  // Starts `python script args...`; stdout+stderr go to a log file read by output().
  PythonPeer(const std::filesystem::path& script, const std::vector<std::string>& args) {
    log_ = std::filesystem::temp_directory_path() /
           ("um_pyigtl_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) + ".log");
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<std::string> argv_s = {python_exe(), "-u", script.string()};
      argv_s.insert(argv_s.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~PythonPeer() {
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

}  // namespace um::igtl::test
