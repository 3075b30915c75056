// Error paths of `ultramotion eval-phantom` (label asan: they also run under ASan + UBSan):
// unavailable backend, bad size/precision/frame count, missing checkpoint -> exit 1 with a
// message naming the problem, before any inference.
#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace {

using um::test::CliRun;

CliRun run(const std::string& args, bool merge_stderr) {
  return um::test::run_cli(args, merge_stderr ? "2>&1" : "2>/dev/null");
}

std::string model_args() { return um::test::phantom_model_args(); }

TEST(EvalPhantomCliErrors, UnavailableOptionsFailClearly) {
#ifndef UM_WITH_CUDA
  const CliRun cuda = run("eval-phantom --frames 1 --backend cuda " + model_args(), true);
  EXPECT_EQ(cuda.exit_code, 1);
  EXPECT_NE(cuda.out.find("backend cuda"), std::string::npos) << cuda.out;
#endif
  const CliRun size = run("eval-phantom --frames 1 --size 10x10 " + model_args(), true);
  EXPECT_EQ(size.exit_code, 1);
  EXPECT_NE(size.out.find("[128, 2048]"), std::string::npos) << size.out;
  const CliRun bad = run("eval-phantom --frames 1 --precision int8", true);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("int8"), std::string::npos) << bad.out;
  const CliRun missing = run("eval-phantom --frames 1 --dfine /nonexistent.pth", true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("/nonexistent.pth"), std::string::npos) << missing.out;
  const CliRun zero = run("eval-phantom --frames 0 " + model_args(), true);
  EXPECT_EQ(zero.exit_code, 1);
  EXPECT_NE(zero.out.find("--frames"), std::string::npos) << zero.out;
}

TEST(EvalPhantomCliErrors, DetectorSkippingOptionsAreChecked) {
  // Skipping needs a sequence (independent frames are reset one by one).
  const CliRun no_seq = run("eval-phantom --frames 3 --detect-every 3 " + model_args(), true);
  EXPECT_EQ(no_seq.exit_code, 1);
  EXPECT_NE(no_seq.out.find("--sequence"), std::string::npos) << no_seq.out;
  const CliRun no_seq2 =
      run("eval-phantom --frames 3 --compare-detect-every 3 " + model_args(), true);
  EXPECT_EQ(no_seq2.exit_code, 1);
  EXPECT_NE(no_seq2.out.find("--sequence"), std::string::npos) << no_seq2.out;
  const CliRun zero = run("eval-phantom --sequence --detect-every 0 " + model_args(), true);
  EXPECT_EQ(zero.exit_code, 1);
  EXPECT_NE(zero.out.find("every"), std::string::npos) << zero.out;
  const CliRun iou =
      run("eval-phantom --sequence --detect-every 3 --skip-min-iou 1.5 " + model_args(), true);
  EXPECT_EQ(iou.exit_code, 1);
  EXPECT_NE(iou.out.find("min_box_iou"), std::string::npos) << iou.out;
  const CliRun drop = run(
      "eval-phantom --sequence --compare-detect-every 2 --skip-max-quality-drop -1 " +
          model_args(),
      true);
  EXPECT_EQ(drop.exit_code, 1);
  EXPECT_NE(drop.out.find("max_quality_drop"), std::string::npos) << drop.out;
}

}  // namespace
