// File: tests/test_support.h
// Purpose: what every test needs to find its data. Fixtures come from ULTRAMOTION_FIXTURES
// (default ../shared/fixtures beside the checkout); a test whose data is absent SKIPS with a
// loud message naming the path (never passes silently).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace um::test {

inline std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("ULTRAMOTION_FIXTURES"); env && *env) return env;
  return UM_DEFAULT_FIXTURES;
}
// ../shared/models (phantom demo models) sits beside the fixtures folder.
inline std::filesystem::path shared_models_dir() { return fixtures_dir().parent_path() / "models"; }
inline std::filesystem::path source_dir() { return UM_SOURCE_DIR; }
inline std::filesystem::path binary_dir() { return UM_BINARY_DIR; }
inline std::filesystem::path cli_path() { return binary_dir() / "ultramotion"; }

// The shipped phantom demo models as `--dfine ... --sam ...` arguments of the CLI.
inline std::string phantom_model_args() {
  const std::filesystem::path dir = source_dir() / "models/phantom";
  return "--dfine " + (dir / "dfine_n_phantom.pth").string() + " --sam " +
         (dir / "mobilesam_phantom.pt").string();
}

// What one run of the `ultramotion` CLI printed and how it exited.
struct CliRun {
  int exit_code = -1;  // -1: it could not start or was killed by a signal
  std::string out;     // what reached the pipe (see run_cli's redirections)
};
// Runs `ultramotion <args> <redirections>` through /bin/sh and reads its standard output; the
// redirections decide what lands in `out`: "2>&1" (stdout and stderr, the default),
// "2>/dev/null" (stdout only), "2>&1 1>/dev/null" (stderr only), "" (stdout; stderr to the log).
inline CliRun run_cli(const std::string& args, const std::string& redirections = "2>&1") {
  const std::string cmd = cli_path().string() + " " + args + " " + redirections;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace um::test

// Skips the current test, loudly, when a fixture file or folder is missing.
#define UM_REQUIRE_FIXTURE(fixture_path)                                                      \
  do {                                                                                        \
    const std::filesystem::path um_fixture_path_{fixture_path};                               \
    if (!std::filesystem::exists(um_fixture_path_)) {                                         \
      std::fprintf(stderr, "\n*** SKIPPED: fixture %s not found (set ULTRAMOTION_FIXTURES) ***\n", \
                   um_fixture_path_.string().c_str());                                        \
      GTEST_SKIP() << "fixture not found: " << um_fixture_path_.string();                     \
    }                                                                                         \
  } while (0)
