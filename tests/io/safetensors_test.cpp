// Tests for src/io/safetensors: reading the reference fixtures and a write/read round trip.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "io_test_util.h"
#include "test_support.h"

namespace um::io {
namespace {

TEST(Safetensors, ReadsDfineSFixture) {
  const auto path = test::fixtures_dir() / "dfine_s" / "tensors.safetensors";
  UM_REQUIRE_FIXTURE(path);
  Result<TensorMap> r = read_safetensors(path.string());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const TensorMap& t = *r;
  EXPECT_EQ(t.size(), 10u);
  ASSERT_TRUE(t.count("orig_target_sizes"));
  const Tensor& sizes = t.at("orig_target_sizes");
  EXPECT_EQ(sizes.dtype(), DType::kI64);
  EXPECT_EQ(sizes.shape(), (Shape{1, 2}));
  // meta: the dfine_s frame is 422x558 (W, H).
  EXPECT_EQ(sizes.data<int64_t>()[0], 422);
  EXPECT_EQ(sizes.data<int64_t>()[1], 558);
  EXPECT_EQ(t.at("pred_logits").shape(), (Shape{1, 300, 1}));
  EXPECT_EQ(t.at("backbone.2").shape(), (Shape{1, 1024, 20, 20}));
  EXPECT_EQ(t.at("encoder.1").dtype(), DType::kF32);
  // The official post-processor's scores come out of a top-k: sorted, descending, in (0, 1).
  const Tensor& scores = t.at("scores");
  ASSERT_EQ(scores.shape(), (Shape{300}));
  const float* s = scores.data<float>();
  EXPECT_TRUE(std::is_sorted(s, s + 300, std::greater<float>()));
  EXPECT_GT(s[0], 0.0f);
  EXPECT_LT(s[0], 1.0f);
}

TEST(Safetensors, ReadsMobileSamFixtureDtypes) {
  const auto path = test::fixtures_dir() / "mobilesam" / "tensors.safetensors";
  UM_REQUIRE_FIXTURE(path);
  Result<TensorMap> r = read_safetensors(path.string());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->at("image_rgb").dtype(), DType::kU8);
  EXPECT_EQ(r->at("image_rgb").shape(), (Shape{558, 422, 3}));
  EXPECT_EQ(r->at("single.masks").dtype(), DType::kBool);
  EXPECT_EQ(r->at("point_labels").dtype(), DType::kI64);
  // masks = logits > 0, element for element.
  const Tensor masks = r->at("single.masks");
  const Tensor logits = r->at("single.mask_logits");
  ASSERT_EQ(masks.numel(), logits.numel());
  const uint8_t* m = static_cast<const uint8_t*>(masks.raw_data());
  const float* l = logits.data<float>();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < masks.numel(); ++i) mismatches += (m[i] != 0) != (l[i] > 0.0f);
  EXPECT_EQ(mismatches, 0);
}

TEST(Safetensors, RoundTripsEveryDtype) {
  test::TempDir dir;
  TensorMap in;
  Tensor f32 = Tensor::from_vector({1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f}, {2, 3});
  in["a.f32"] = f32;
  in["b.f16"] = f32.to(DType::kF16);
  in["c.bf16"] = f32.to(DType::kBF16);
  in["d.i64"] = f32.to(DType::kI64);
  in["e.i32"] = f32.to(DType::kI32);
  in["f.u8"] = Tensor::from_vector({0, 1, 2, 255}, {4}).to(DType::kU8);
  in["g.bool"] = Tensor::from_vector({0, 1, 1}, {3}).to(DType::kBool);
  in["h.transposed"] = f32.transpose(0, 1);  // non-contiguous: written as contiguous [3, 2]
  in["i.empty"] = Tensor::empty({0, 4});
  in["j.scalar"] = Tensor::from_vector({42.0f}, {});
  const std::string path = dir.file("rt.safetensors");
  ASSERT_TRUE(write_safetensors(path, in).ok());

  Result<TensorMap> r = read_safetensors(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), in.size());
  for (const auto& [name, t] : in) {
    SCOPED_TRACE(name);
    const Tensor& got = r->at(name);
    EXPECT_EQ(got.dtype(), t.dtype());
    EXPECT_EQ(got.shape(), t.shape());
    Tensor want = t.contiguous();
    ASSERT_EQ(got.nbytes(), want.nbytes());
    if (want.nbytes() > 0) {
      EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()), 0);
    }
  }
  // transposed [3, 2] = [[1.5, 0], [-2, 1e-3], [3.25, 7]] in row-major order
  EXPECT_EQ(r->at("h.transposed").data<float>()[2], -2.0f);
  EXPECT_EQ(r->at("h.transposed").data<float>()[5], 7.0f);
  EXPECT_FLOAT_EQ(r->at("j.scalar").data<float>()[0], 42.0f);

  // The data section starts 8-byte aligned, as the format recommends.
  const auto bytes = test::read_bytes(path);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ(header_len % 8, 0u);
}

}  // namespace
}  // namespace um::io
