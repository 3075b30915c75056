// The gateway under test as a child process (gateway_process.h).
#include "stress/gateway_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "igtl/socket.h"

namespace um::stress {

Result<std::unique_ptr<GatewayProcess>> GatewayProcess::spawn(const std::vector<std::string>& argv,
                                                              const std::string& log_path) {
  if (argv.empty()) return invalid_argument("gateway command is empty");
  // Everything the child touches is prepared before fork(): the stress process has threads
  // (simulators, receivers), so the child must not allocate before exec.
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return unavailable("cannot write gateway log '" + log_path + "': " + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return unavailable(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execvp(cargv[0], cargv.data());
    const char msg[] = "stress: exec of the gateway command failed\n";
    [[maybe_unused]] ssize_t w = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  return std::unique_ptr<GatewayProcess>(new GatewayProcess(pid, log_path));
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    reap(0);
  }
}

bool GatewayProcess::reap(int options) {
  if (exited_) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, options);
  if (r != pid_) return false;
  exited_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
               : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                     : 255;
  return true;
}

bool GatewayProcess::alive() { return !reap(WNOHANG); }

int GatewayProcess::stop(double timeout_s) {
  if (exited_) return exit_code_;
  ::kill(pid_, SIGINT);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap(WNOHANG)) return exit_code_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  reap(0);
  return exit_code_;
}

Result<std::string> self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return unavailable(std::string("readlink /proc/self/exe: ") + std::strerror(errno));
  return std::string(buf, static_cast<size_t>(n));
}

std::string file_tail(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return {};
  const std::streamoff size = f.tellg();
  const std::streamoff from = size > static_cast<std::streamoff>(max_bytes)
                                  ? size - static_cast<std::streamoff>(max_bytes)
                                  : 0;
  f.seekg(from);
  std::string s(static_cast<size_t>(size - from), '\0');
  f.read(s.data(), static_cast<std::streamsize>(s.size()));
  return s;
}

Result<std::vector<int>> pick_free_ports(size_t n) {
  std::vector<igtl::Listener> held;
  std::vector<int> ports;
  for (size_t i = 0; i < n; ++i) {
    UM_ASSIGN_OR_RETURN(igtl::Listener l, igtl::Listener::listen("127.0.0.1", 0));
    ports.push_back(l.port());
    held.push_back(std::move(l));
  }
  return ports;  // the listeners close here
}

}  // namespace um::stress
