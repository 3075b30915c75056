// Tests for src/io/weight_source: lookups by key and shape, conversion to float32.
#include "io/weight_source.h"

#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "test_support.h"

namespace um::io {
namespace {

TensorMap small_map() {
  TensorMap m;
  m["backbone.stem.weight"] = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).to(DType::kF16);
  m["backbone.stem.bias"] = Tensor::from_vector({0.5f, -0.5f}, {2});
  m["num_batches_tracked"] = Tensor::from_vector({7}, {}).to(DType::kI64);
  return m;
}

TEST(WeightSource, GetsFloat32ContiguousWithPrefix) {
  TensorMap m = small_map();
  WeightSource w(m);
  WeightSource bb = w.sub("backbone.").sub("stem.");
  EXPECT_EQ(bb.prefix(), "backbone.stem.");
  EXPECT_TRUE(bb.has("weight"));
  EXPECT_FALSE(bb.has("running_mean"));
  EXPECT_EQ(bb.shape_of("weight"), (Shape{2, 3}));
  Tensor k = bb.get("weight", {2, 3});
  EXPECT_EQ(k.dtype(), DType::kF32);
  EXPECT_TRUE(k.is_contiguous());
  EXPECT_FLOAT_EQ(k.data<float>()[5], 6.0f);
  Tensor any = bb.get("bias");  // empty shape: any shape accepted
  EXPECT_FLOAT_EQ(any.data<float>()[1], -0.5f);
  EXPECT_FLOAT_EQ(w.get("num_batches_tracked", {}).data<float>()[0], 7.0f);
}

TEST(WeightSource, MissingKeyNamesKeyAndPrefix) {
  TensorMap m = small_map();
  WeightSource w(m, "backbone.");
  try {
    (void)w.get("stem.running_mean", {2});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
    EXPECT_NE(e.status().message().find("missing key 'backbone.stem.running_mean'"), std::string::npos)
        << e.what();
    EXPECT_NE(e.status().message().find("prefix 'backbone.'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)w.shape_of("nope"), Error);
}

TEST(WeightSource, WrongShapeNamesKeyAndBothShapes) {
  TensorMap m = small_map();
  WeightSource w(m, "backbone.");
  try {
    (void)w.get("stem.weight", {3, 2});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(e.status().message(),
              "key 'backbone.stem.weight': expected shape [3, 2] but checkpoint has [2, 3]");
  }
}

TEST(WeightSource, ReadsFixtureTensors) {
  const auto path = test::fixtures_dir() / "dfine_s" / "tensors.safetensors";
  UM_REQUIRE_FIXTURE(path);
  Result<TensorMap> r = read_safetensors(path.string());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  WeightSource w(*r);
  Tensor sizes = w.get("orig_target_sizes", {1, 2});  // int64 in the file, float32 here
  EXPECT_EQ(sizes.dtype(), DType::kF32);
  EXPECT_FLOAT_EQ(sizes.data<float>()[1], 558.0f);
  EXPECT_EQ(w.sub("encoder.").get("2", {1, 256, 20, 20}).numel(), 256 * 400);
}

}  // namespace
}  // namespace um::io
