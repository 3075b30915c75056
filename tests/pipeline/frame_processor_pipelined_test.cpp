// Tests of the pipelined FrameProcessor API (submit/complete) and of processors that share one
// copy of the models (create_frame_processors), on the CPU backend with the shipped phantom
// models. The CUDA processor's own pipelining is tested in tests/cuda (GPU only).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "pipeline/frame_processor.h"
#include "pipeline/phantom.h"
#include "pipeline/phantom_stream.h"
#include "test_support.h"

namespace um::pipeline {
namespace {

ProcessorOptions phantom_options() {
  ProcessorOptions opt;
  opt.dfine_checkpoint = (test::source_dir() / "models/phantom/dfine_n_phantom.pth").string();
  opt.sam_checkpoint = (test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
  return opt;
}

std::vector<Frame> phantom_frames(int count) {
  PhantomStream stream(7, {.size = {320, 256}, .absent_fraction = 0.0});
  std::vector<Frame> frames;
  for (int i = 0; i < count; ++i) frames.push_back(to_frame(stream.next(), static_cast<uint64_t>(i)));
  return frames;
}

class SharedProcessorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto p = create_frame_processors(phantom_options(), 2);
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    processors_ = new std::vector<std::unique_ptr<FrameProcessor>>(std::move(p).value());
  }
  static void TearDownTestSuite() {
    delete processors_;
    processors_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(processors_, nullptr);
    ASSERT_EQ(processors_->size(), 2u);
    for (auto& p : *processors_) p->reset();
  }
  static std::vector<std::unique_ptr<FrameProcessor>>* processors_;
};
std::vector<std::unique_ptr<FrameProcessor>>* SharedProcessorsTest::processors_ = nullptr;

TEST_F(SharedProcessorsTest, SameModelsSeparateTemporalState) {
  FrameProcessor& a = *(*processors_)[0];
  FrameProcessor& b = *(*processors_)[1];
  EXPECT_EQ(a.description(), b.description());
  const std::vector<Frame> frames = phantom_frames(2);
  // Stream a sees two frames, stream b only the second: same models, so the same box and mask;
  // own state, so a is past its first detection and b is not.
  auto a0 = a.process(frames[0]);
  auto a1 = a.process(frames[1]);
  auto b1 = b.process(frames[1]);
  ASSERT_TRUE(a0.ok() && a1.ok() && b1.ok());
  ASSERT_TRUE(a1->detected && b1->detected);
  EXPECT_EQ(a1->box.x0, b1->box.x0);
  EXPECT_EQ(a1->box.y1, b1->box.y1);
  EXPECT_EQ(a1->mask, b1->mask);
  EXPECT_TRUE(a1->quality.stability_valid);
  EXPECT_FALSE(b1->quality.stability_valid);
  EXPECT_EQ(b1->state, VisibilityState::kRelocalizing);
}

TEST_F(SharedProcessorsTest, SubmitThenCompleteEqualsProcess) {
  FrameProcessor& a = *(*processors_)[0];
  FrameProcessor& b = *(*processors_)[1];
  const std::vector<Frame> frames = phantom_frames(2);
  EXPECT_EQ(a.max_in_flight(), 1);
  ASSERT_TRUE(a.submit(frames[0]).ok());
  EXPECT_EQ(a.in_flight(), 1);
  // Beyond max_in_flight: refused, nothing lost.
  EXPECT_EQ(a.submit(frames[1]).code(), StatusCode::kFailedPrecondition);
  auto r0 = a.complete();
  ASSERT_TRUE(r0.ok()) << r0.status().to_string();
  EXPECT_EQ(a.in_flight(), 0);
  EXPECT_EQ(r0->frame_id, frames[0].id);
  EXPECT_GT(r0->timings.submit_ns, 0);
  EXPECT_GE(r0->timings.end_ns, r0->timings.submit_ns);
  auto p0 = b.process(frames[0]);
  ASSERT_TRUE(p0.ok());
  EXPECT_EQ(r0->detected, p0->detected);
  EXPECT_EQ(r0->box.x0, p0->box.x0);
  EXPECT_EQ(r0->mask, p0->mask);
  EXPECT_EQ(r0->state, p0->state);
}

TEST_F(SharedProcessorsTest, PipelinedMisuseIsAClearError) {
  FrameProcessor& a = *(*processors_)[0];
  EXPECT_EQ(a.complete().status().code(), StatusCode::kFailedPrecondition);
  Frame bad;
  bad.width = 64;
  bad.height = 64;
  bad.pixels.assign(64 * 64, 0);
  EXPECT_EQ(a.submit(bad).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(a.in_flight(), 0);  // a refused frame is not in flight
}

TEST(CreateFrameProcessors, CountMustBePositiveAndOptionsAreChecked) {
  EXPECT_EQ(create_frame_processors(phantom_options(), 0).status().code(),
            StatusCode::kInvalidArgument);
  ProcessorOptions opt = phantom_options();
  opt.sam_checkpoint = "/nonexistent/sam.pt";
  EXPECT_EQ(create_frame_processors(opt, 2).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace um::pipeline
