// `ultramotion assign`: the documented input forms (null / "inf" / 1e309 = forbidden), the
// output document, per-problem failures (exit 2) and clear errors for bad JSON (exit 1).
// Labelled "asan": CI reruns it against the AddressSanitizer build of the CLI.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  return {std::istreambuf_iterator<char>(f), {}};
}

CliRun assign(const std::string& input, const std::string& args = "") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("um_assign_cli_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                    "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "in.json") << input;
  const std::string cmd = um::test::cli_path().string() + " assign " + args + " < " +
                          (dir / "in.json").string() + " > " + (dir / "out.txt").string() +
                          " 2> " + (dir / "err.txt").string();
  CliRun r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out.txt");
  r.err = slurp(dir / "err.txt");
  std::filesystem::remove_all(dir);
  return r;
}

TEST(AssignCli, SolvesOneProblem) {
  const CliRun r = assign(R"({"costs": [[4, 1, 3], [2, 0, 5], [3, 2, 2]]})");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["assignments"], nlohmann::json::parse("[[[0, 1], [1, 0], [2, 2]]]"));
  EXPECT_EQ(j["total_costs"][0].get<double>(), 5.0);
  EXPECT_EQ(j["status"][0], "ok");
  EXPECT_FALSE(j.contains("errors"));
}

TEST(AssignCli, ForbiddenSpellingsAndRaggedBatch) {
  // null, "inf" and an overflowing literal all mean forbidden: only the diagonal is allowed.
  const CliRun r = assign(
      R"({"batch": [[[1, null, "inf"], [1e309, 2, "Infinity"], [null, null, 3]], [[5], [1]], []]})");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["assignments"][0], nlohmann::json::parse("[[0, 0], [1, 1], [2, 2]]"));
  EXPECT_EQ(j["total_costs"][0].get<double>(), 6.0);
  EXPECT_EQ(j["assignments"][1], nlohmann::json::parse("[[1, 0]]"));
  EXPECT_EQ(j["assignments"][2], nlohmann::json::array());
  EXPECT_EQ(j["total_costs"][2].get<double>(), 0.0);
}

TEST(AssignCli, PerProblemFailuresExitTwoWithReasons) {
  const CliRun r = assign(R"({"batch": [[[null, null], [1, 2]], [["-inf"]], [["nan"]], [[1]]]})");
  EXPECT_EQ(r.exit_code, 2);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], nlohmann::json::parse(R"(["infeasible", "invalid_entry",
                                                  "invalid_entry", "ok"])"));
  EXPECT_TRUE(j["total_costs"][0].is_null());
  EXPECT_NE(j["errors"][0].get<std::string>().find("infeasible"), std::string::npos);
  EXPECT_TRUE(j["errors"][3].is_null());
  EXPECT_EQ(j["total_costs"][3].get<double>(), 1.0);
}

TEST(AssignCli, BadInputIsAClearError) {
  const struct {
    const char* input;
    const char* expect;
  } cases[] = {
      {R"({"costs": [[1, 2], [3)", "not valid JSON"},
      {R"([1, 2])", "exactly one of"},
      {R"({"costs": [[1]], "batch": []})", "exactly one of"},
      {R"({"costs": [[1, 2], [3]]})", "row 1 has 1 entries"},
      {R"({"costs": [[1, "x"]]})", "must be a number, null or \"inf\""},
      {R"({"costs": [[1, true]]})", "must be a number"},
      {R"({"costs": 5})", "array of rows"},
      {R"({"batch": {"a": 1}})", "\"batch\" must be an array"},
      {R"({"costs": [[1], 2]})", "row 1 is not an array"},
      {"", "not valid JSON"},
  };
  for (const auto& c : cases) {
    const CliRun r = assign(c.input);
    EXPECT_EQ(r.exit_code, 1) << c.input;
    EXPECT_TRUE(r.out.empty()) << c.input;
    EXPECT_NE(r.err.find("INVALID_ARGUMENT"), std::string::npos) << c.input << " -> " << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.input << " -> " << r.err;
  }
}

TEST(AssignCli, CudaRejectsCostsBeyondFloatRangeBeforeTouchingTheDevice) {
  const CliRun r = assign(R"({"costs": [[1, 1e300], [2, 3]]})", "--device cuda");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("problem 0 entry [0][1] is outside the float32 range"), std::string::npos)
      << r.err;
}

TEST(AssignCli, UnknownDeviceIsRejected) {
  const CliRun r = assign(R"({"costs": [[1]]})", "--device tpu");
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
