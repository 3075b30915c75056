// File: tests/test_support.h
// Purpose: what every test needs to find its data. Fixtures come from ULTRAMOTION_FIXTURES
// (default ../shared/fixtures beside the checkout); a test whose data is absent SKIPS with a
// loud message naming the path (never passes silently).
#pragma once

#include <gtest/gtest.h>

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
