// File: tests/igtl/python_peer.h
// Purpose: the tests/igtl/*.py pyigtl peers as child processes (tests/child_process.h runs them
// with a hard time limit).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "child_process.h"

namespace um::igtl::test {

using um::test::ChildProcess;
using um::test::python_exe;
using um::test::python_has_module;

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
