// Tests for src/io/checkpoint: the reference checkpoints and the phantom models load without
// Python with the right layout, key count and dtypes; values are checked where another source
// fixes them (MobileSAM's dense positional encoding in the fixture is computed from the
// checkpoint's Gaussian matrix; D-FINE's anchors follow the published formula); and
// write_torch_checkpoint round-trips every layout and dtype.
#include "io/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ostream>

#include "io/safetensors.h"
#include "io/weight_source.h"
#include "io_test_util.h"
#include "pickle_builder.h"
#include "test_support.h"

namespace um::io {
namespace {

struct Expected {
  const char* path;  // relative to the shared folder
  const char* layout;
  size_t tensors;
  bool half;  // parameters stored as float16 (models/), else float32 (fixtures/)
};

// Readable test parameters in gtest's listing and failure messages.
void PrintTo(const Expected& e, std::ostream* os) {
  *os << e.path << " (" << e.layout << ", " << e.tensors << " tensors, "
      << (e.half ? "float16" : "float32") << ")";
}

class RealCheckpoint : public ::testing::TestWithParam<Expected> {};

TEST_P(RealCheckpoint, LoadsWithLayoutCountAndDtypes) {
  const Expected& e = GetParam();
  const auto path = test::fixtures_dir().parent_path() / e.path;
  UM_REQUIRE_FIXTURE(path);
  Result<Checkpoint> r = load_checkpoint(path.string());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->layout, e.layout);
  EXPECT_EQ(r->tensors.size(), e.tensors);
  int f16 = 0, f32 = 0;
  for (const auto& [k, t] : r->tensors) {
    EXPECT_EQ(k.rfind("module.", 0), std::string::npos) << k;
    EXPECT_TRUE(t.is_contiguous()) << k;
    f16 += t.dtype() == DType::kF16;
    f32 += t.dtype() == DType::kF32;
    if (k.size() > 19 && k.compare(k.size() - 19, 19, "num_batches_tracked") == 0) {
      EXPECT_EQ(t.dtype(), DType::kI64) << k;
      EXPECT_EQ(t.dim(), 0) << k;
    }
    if (k.find("running_var") != std::string::npos) {
      EXPECT_EQ(t.dtype(), DType::kF32) << k;  // buffers stay float32 even in half checkpoints
      const float* v = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) ASSERT_GT(v[i], 0.0f) << k << "[" << i << "]";
    }
  }
  if (e.half) {
    EXPECT_GT(f16, 0);
  } else {
    EXPECT_EQ(f16, 0);
  }
  EXPECT_GT(f32, 0);
}

INSTANTIATE_TEST_SUITE_P(
    SharedFiles, RealCheckpoint,
    ::testing::Values(Expected{"fixtures/dfine_s/checkpoint.pth", "ema", 794, false},
                      Expected{"fixtures/dfine_n/checkpoint.pth", "model", 674, false},
                      Expected{"fixtures/mobilesam/checkpoint.pt", "plain", 439, false},
                      Expected{"models/dfine_n_phantom.pth", "ema", 674, true},
                      Expected{"models/mobilesam_phantom.pt", "plain", 439, true}),
    [](const auto& info) {
      std::string n = info.param.path;
      for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return n;
    });

TEST(Checkpoint, DfineShapesMatchFixtureOutputs) {
  for (const char* variant : {"dfine_s", "dfine_n"}) {
    SCOPED_TRACE(variant);
    const auto dir = test::fixtures_dir() / variant;
    const auto path = dir / "checkpoint.pth";
    UM_REQUIRE_FIXTURE(path);
    Result<Checkpoint> ckpt = load_checkpoint(path.string());
    ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
    Result<TensorMap> ref = read_safetensors((dir / "tensors.safetensors").string());
    ASSERT_TRUE(ref.ok()) << ref.status().to_string();
    // The class count of pred_logits [1, 300, C] is the score head's output size.
    const int64_t classes = ref->at("pred_logits").size(2);
    WeightSource w(ckpt->tensors, "decoder.");
    const Shape head = w.shape_of("dec_score_head.0.weight");  // [classes, hidden_dim]
    ASSERT_EQ(head.size(), 2u);
    EXPECT_EQ(head[0], classes);
    EXPECT_EQ(w.shape_of("dec_score_head.0.bias"), (Shape{classes}));
    EXPECT_FALSE(w.has("backbone.stem.stem1.conv.weight"));  // the prefix applies
  }
}

TEST(Checkpoint, DfineAnchorsFollowTheFormula) {
  const auto path = test::fixtures_dir() / "dfine_s" / "checkpoint.pth";
  UM_REQUIRE_FIXTURE(path);
  Result<Checkpoint> ckpt = load_checkpoint(path.string());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  // 640x640, strides 8/16/32: 80*80 + 40*40 + 20*20 anchors (cx, cy, w, h) with
  // cx = (x + 0.5) / 80, w = 0.05 * 2^level, stored as logits; anchors with a coordinate outside
  // (0.01, 0.99) are invalid and stored as +inf.
  WeightSource w(ckpt->tensors);
  Tensor anchors = w.get("decoder.anchors", {1, 8400, 4});
  const float* a = anchors.data<float>();
  auto logit = [](double p) { return static_cast<float>(std::log(p / (1.0 - p))); };
  const int mid = 40 * 80 + 41;  // level 0, y = 40, x = 41
  EXPECT_NEAR(a[4 * mid + 0], logit(41.5 / 80), 1e-5);
  EXPECT_NEAR(a[4 * mid + 1], logit(40.5 / 80), 1e-5);
  EXPECT_NEAR(a[4 * mid + 2], logit(0.05), 1e-5);
  EXPECT_NEAR(a[4 * (6400 + 20 * 40 + 20) + 3], logit(0.1), 1e-5);  // level 1: w = 0.1
  EXPECT_TRUE(std::isinf(a[0]));  // cx = 0.5 / 80 < 0.01: invalid
  Tensor valid = ckpt->tensors.at("decoder.valid_mask");
  ASSERT_EQ(valid.shape(), (Shape{1, 8400, 1}));
  EXPECT_FALSE(valid.data<bool>()[0]);
  EXPECT_TRUE(valid.data<bool>()[mid]);
  EXPECT_EQ(ckpt->tensors.at("decoder.valid_mask").dtype(), DType::kBool);
}

TEST(Checkpoint, MobileSamDensePeMatchesFixture) {
  const auto dir = test::fixtures_dir() / "mobilesam";
  const auto path = dir / "checkpoint.pt";
  UM_REQUIRE_FIXTURE(path);
  Result<Checkpoint> ckpt = load_checkpoint(path.string());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  Result<TensorMap> ref = read_safetensors((dir / "tensors.safetensors").string());
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  // SAM's PositionEmbeddingRandom: pe(x, y) = [sin(2*pi*c), cos(2*pi*c)] with
  // c = (2 * ((x + 0.5) / 64, (y + 0.5) / 64) - 1) @ G, G [2, 128] from the checkpoint.
  Tensor g = WeightSource(ckpt->tensors)
                 .get("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", {2, 128});
  const Tensor& pe = ref->at("dense_pe");
  ASSERT_EQ(pe.shape(), (Shape{1, 256, 64, 64}));
  const float* G = g.data<float>();
  const float* P = pe.data<float>();
  double max_err = 0;
  for (int y = 0; y < 64; y += 9) {
    for (int x = 0; x < 64; x += 7) {
      const double u = 2.0 * ((x + 0.5) / 64) - 1.0, v = 2.0 * ((y + 0.5) / 64) - 1.0;
      for (int c = 0; c < 128; ++c) {
        const double a = 2.0 * M_PI * (u * G[c] + v * G[128 + c]);
        max_err = std::max(max_err, std::abs(std::sin(a) - P[(c * 64 + y) * 64 + x]));
        max_err = std::max(max_err, std::abs(std::cos(a) - P[((128 + c) * 64 + y) * 64 + x]));
      }
    }
  }
  EXPECT_LT(max_err, 1e-4);
}

TEST(Checkpoint, WriteTorchCheckpointRoundTripsEveryLayout) {
  test::TempDir dir;
  TensorMap sd;
  sd["a.weight"] = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  sd["a.half"] = Tensor::from_vector({0.5f, -1.5f}, {2}).to(DType::kF16);
  sd["a.bf16"] = Tensor::from_vector({3.0f}, {1}).to(DType::kBF16);
  sd["a.count"] = Tensor::from_vector({5e9f}, {}).to(DType::kI64);
  sd["a.mask"] = Tensor::from_vector({1, 0, 1}, {3}).to(DType::kBool);
  sd["a.bytes"] = Tensor::from_vector({7, 8}, {2}).to(DType::kU8);
  sd["a.i32"] = Tensor::from_vector({-3}, {1}).to(DType::kI32);
  sd["a.t"] = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1);
  for (const char* layout : {"plain", "ema", "model", "state_dict", "model_state_dict", "weights",
                             "net"}) {
    SCOPED_TRACE(layout);
    const std::string path = dir.file(std::string(layout) + ".pth");
    ASSERT_TRUE(write_torch_checkpoint(path, sd, layout).ok());
    Result<Checkpoint> r = load_checkpoint(path);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->layout, layout);
    ASSERT_EQ(r->tensors.size(), sd.size());
    for (const auto& [k, t] : sd) {
      const Tensor& got = r->tensors.at(k);
      EXPECT_EQ(got.dtype(), t.dtype()) << k;
      EXPECT_EQ(got.shape(), t.shape()) << k;
      const Tensor want = t.contiguous();
      EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()), 0) << k;
    }
  }
  EXPECT_FALSE(write_torch_checkpoint(dir.file("x.pth"), sd, "bogus").ok());
}

TEST(Checkpoint, StripsModulePrefixAndReadsSafetensors) {
  test::TempDir dir;
  TensorMap sd;
  sd["module.backbone.w"] = Tensor::from_vector({1, 2}, {2});
  sd["module.head.b"] = Tensor::from_vector({3}, {1});
  ASSERT_TRUE(write_torch_checkpoint(dir.file("ddp.pth"), sd, "model").ok());
  Result<Checkpoint> r = load_checkpoint(dir.file("ddp.pth"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->tensors.count("backbone.w"));
  EXPECT_TRUE(r->tensors.count("head.b"));

  // Not every key has the prefix: nothing is stripped.
  sd["other"] = Tensor::from_vector({4}, {1});
  ASSERT_TRUE(write_safetensors(dir.file("mixed.safetensors"), sd).ok());
  Result<Checkpoint> s = load_checkpoint(dir.file("mixed.safetensors"));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->layout, "safetensors");
  EXPECT_TRUE(s->tensors.count("module.backbone.w"));
}

TEST(Checkpoint, EmaIsPreferredOverModelWhenBothArePresent) {
  // A D-FINE training checkpoint: {'model': sd, 'ema': {'module': sd_ema, 'updates': N}, ...}.
  test::TempDir dir;
  test::Pk pk;
  pk.op('}').op('(');
  pk.str("model").op('}').op('(').str("w").tensor("0", 4, 0, {4}, {1}).op('u');
  pk.str("ema").op('}').op('(').str("module").op('}').op('(');
  pk.str("w").tensor("1", 4, 0, {4}, {1}).op('u');
  pk.str("updates").num(10).op('u');
  pk.str("date").str("2026-11-26").op('u').op('.');
  test::write_zip(dir.file("both.pth"), {{"both/data.pkl", pk.bytes()},
                                         {"both/data/0", test::floats({1, 1, 1, 1})},
                                         {"both/data/1", test::floats({2, 2, 2, 2})}});
  Result<Checkpoint> r = load_checkpoint(dir.file("both.pth"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->layout, "ema");
  EXPECT_EQ(r->tensors.at("w").data<float>()[0], 2.0f);
}

TEST(Checkpoint, ReadsProtocol4MemoAndParameters) {
  // What torch.save(..., pickle_protocol=4) and nn.Parameter objects produce: FRAME,
  // SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE/BINGET, _rebuild_parameter around the tensor.
  test::TempDir dir;
  auto short_str = [](const std::string& s) {
    std::string out(1, '\x8c');
    out.push_back(static_cast<char>(s.size()));
    return out + s;
  };
  // Opcode bytes that may contain NUL, kept whole (a plain const char* would stop at the NUL).
  auto ops = [](auto&& literal) { return std::string(literal, sizeof(literal) - 1); };
  std::string body;
  body += "}";                                                       // root dict
  body += std::string("(") + short_str("state_dict");
  body += short_str("collections") + short_str("OrderedDict") + "\x93" + ")R";
  body += std::string("(") + short_str("layer.weight");
  body += short_str("torch._utils") + short_str("_rebuild_parameter") + "\x93";
  body += short_str("torch._utils") + short_str("_rebuild_tensor_v2") + "\x93\x94";  // memo 0
  body += std::string("((") + short_str("storage") + short_str("torch") + short_str("HalfStorage") + "\x93";
  body += short_str("0") + short_str("cpu") + "K\x06" "tQ";           // numel 6
  body += ops("K\x00" "K\x02K\x03\x86" "K\x03K\x01\x86" "\x89") + short_str("collections") +
          short_str("OrderedDict") + "\x93)Rt" "R";                  // tensor
  body += "\x88}\x87R";                                              // Parameter(t, True, {})
  body += short_str("layer.bias");
  body += ops("h\x00");                                                   // memo 0: rebuild_tensor_v2
  body += std::string("((") + short_str("storage") + short_str("torch") + short_str("FloatStorage") + "\x93";
  body += short_str("1") + short_str("cpu") + ops("K\x02" "tQ" "K\x00K\x02\x85K\x01\x85\x89}tR");
  body += "u";                                                       // SETITEMS (state dict)
  body += short_str("epoch") + "G" + std::string("\x40\x09\x21\xfb\x54\x44\x2d\x18", 8);  // pi
  body += "u.";
  std::string pk = std::string("\x80\x04\x95", 3);
  const uint64_t frame = body.size();
  pk.append(reinterpret_cast<const char*>(&frame), 8);
  pk += body;
  const uint16_t half[6] = {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600};  // 1..6
  std::vector<uint8_t> h(sizeof(half));
  std::memcpy(h.data(), half, sizeof(half));
  test::write_zip(dir.file("p4.pt"), {{"p4/data.pkl", std::vector<uint8_t>(pk.begin(), pk.end())},
                                      {"p4/data/0", h},
                                      {"p4/data/1", test::floats({0.5f, -0.5f})},
                                      {"p4/byteorder", {'l', 'i', 't', 't', 'l', 'e'}}});
  Result<Checkpoint> r = load_checkpoint(dir.file("p4.pt"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->layout, "state_dict");
  const Tensor& w = r->tensors.at("layer.weight");
  EXPECT_EQ(w.dtype(), DType::kF16);
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_FLOAT_EQ(WeightSource(r->tensors).get("layer.weight", {2, 3}).data<float>()[5], 6.0f);
  EXPECT_EQ(r->tensors.at("layer.bias").data<float>()[1], -0.5f);
}

}  // namespace
}  // namespace um::io
