// File: tests/igtl/reference_messages.h
// Purpose: the messages both interop peers agree on (mirrors reference_messages() in
// pyigtl_peer.py: change them together) and the checks that they arrived unchanged.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "igtl/message.h"

namespace um::igtl::test {

inline ImageGeometry u8_geometry() {
  ImageGeometry g;
  g.size = {37, 23, 1};
  g.spacing = {0.3, 0.45, 2.0};
  const double c = std::cos(0.5), s = std::sin(0.5);
  g.direction = {Vec3{c, s, 0}, Vec3{-s, c, 0}, Vec3{0, 0, 1}};
  g.origin = {10.5, -20.25, 5.0};
  g.coordinates = CoordinateSystem::kLPS;
  return g;
}

inline ImageGeometry f32_geometry() {
  ImageGeometry g;
  g.size = {19, 11, 3};
  g.spacing = {0.2, 0.2, 0.5};
  g.origin = {-5.0, 3.0, 1.0};
  g.coordinates = CoordinateSystem::kLPS;
  return g;
}

inline std::vector<uint8_t> u8_pixels() {
  std::vector<uint8_t> px;
  for (int k = 0; k < 1; ++k)
    for (int j = 0; j < 23; ++j)
      for (int i = 0; i < 37; ++i) px.push_back(static_cast<uint8_t>((7 * i + 13 * j + 5 * k) % 256));
  return px;
}

inline std::vector<uint8_t> f32_pixels() {
  std::vector<float> v;
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 11; ++j)
      for (int i = 0; i < 19; ++i) v.push_back(0.5f * i - 0.25f * j + 100.125f * k);
  std::vector<uint8_t> px(v.size() * 4);
  std::memcpy(px.data(), v.data(), px.size());
  return px;
}

inline TransformContent reference_transform() {
  TransformContent t;
  t.matrix = {{{0, -1, 0, 10.5f}, {1, 0, 0, 20.25f}, {0, 0, 1, -30}, {0, 0, 0, 1}}};
  return t;
}

// names: u8 image, f32 image, string, transform.
inline std::vector<Message> reference_messages(const std::string& sender,
                                               const std::vector<std::string>& names) {
  std::vector<Message> out;
  out.push_back(make_image_message(names[0], u8_geometry(), ScalarType::kUint8, 1, u8_pixels()));
  out.push_back(make_image_message(names[1], f32_geometry(), ScalarType::kFloat32, 1, f32_pixels()));
  out.push_back(make_string_message(names[2], "hello from " + sender));
  out.push_back(make_transform_message(names[3], reference_transform()));
  for (auto& m : out) {
    m.header_version = 2;
    m.metadata = {{"FrameId", "42"}, {"Sender", sender}};
  }
  return out;
}

inline void expect_geometry(const ImageGeometry& got, const ImageGeometry& want) {
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.coordinates, want.coordinates);
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(got.spacing[a], want.spacing[a], 1e-6) << "axis " << a;
    EXPECT_NEAR(got.origin[a], want.origin[a], 1e-4) << "axis " << a;
    for (int r = 0; r < 3; ++r) EXPECT_NEAR(got.direction[a][r], want.direction[a][r], 1e-6);
  }
}

// Checks one received message against the reference of the same role.
inline void expect_reference(const Message& got, const std::string& sender, int role,
                             bool with_metadata = true) {
  SCOPED_TRACE("message '" + got.device_name + "'");
  if (with_metadata) {
    std::map<std::string, std::string> meta;
    for (const auto& e : got.metadata) meta[e.key] = e.value;
    EXPECT_EQ(meta, (std::map<std::string, std::string>{{"FrameId", "42"}, {"Sender", sender}}));
  }
  switch (role) {
    case 0: {
      const auto* img = std::get_if<ImageContent>(&got.content);
      ASSERT_NE(img, nullptr);
      EXPECT_EQ(img->scalar_type, ScalarType::kUint8);
      EXPECT_EQ(img->components, 1);
      EXPECT_EQ(img->pixels, u8_pixels());
      expect_geometry(img->geometry, u8_geometry());
      break;
    }
    case 1: {
      const auto* img = std::get_if<ImageContent>(&got.content);
      ASSERT_NE(img, nullptr);
      EXPECT_EQ(img->scalar_type, ScalarType::kFloat32);
      EXPECT_EQ(img->pixels, f32_pixels());
      expect_geometry(img->geometry, f32_geometry());
      break;
    }
    case 2: {
      const auto* s = std::get_if<StringContent>(&got.content);
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(s->text, "hello from " + sender);
      break;
    }
    case 3: {
      const auto* t = std::get_if<TransformContent>(&got.content);
      ASSERT_NE(t, nullptr);
      const auto want = reference_transform();
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) EXPECT_FLOAT_EQ(t->matrix[r][c], want.matrix[r][c]);
      break;
    }
    default: FAIL() << "bad role";
  }
}

}  // namespace um::igtl::test
