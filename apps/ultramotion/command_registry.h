// File: apps/ultramotion/command_registry.h
// Purpose: lets each subcommand live in its own cmd_<name>.cpp without editing main.cpp.
// A command file defines `void register_detect(CLI::App& app)` that adds its subcommand (options
// and a callback), then `UM_REGISTER_COMMAND(register_detect);`. main.cpp adds every registered
// command in name order, parses, and maps exceptions to exit codes:
//   um::Error -> prints "error: <CODE>: <message>" to stderr, exit 1
//   CommandFailed(code) -> exit code as given (a command that printed its own diagnostics)
#pragma once

#include <CLI/CLI.hpp>

#include <stdexcept>

namespace um::cli {

using Registrar = void (*)(CLI::App&);
int register_command(const char* name, Registrar registrar);

// Thrown by a command that has already reported its problem and wants a specific exit code.
struct CommandFailed : std::runtime_error {
  explicit CommandFailed(int exit_code, const std::string& what = "command failed")
      : std::runtime_error(what), code(exit_code) {}
  int code;
};

}  // namespace um::cli

#define UM_REGISTER_COMMAND(fn) \
  [[maybe_unused]] static const int um_registered_##fn = ::um::cli::register_command(#fn, &fn)
