// Bad-input tests for src/io: every broken file is built inside the test, and each must give a
// Status (or um::Error from WeightSource) with a message naming the problem, never a crash.
// Labelled "asan": scripts/test.sh reruns this executable under AddressSanitizer + UBSan.
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <utility>

#include "io/checkpoint.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "io/weight_source.h"
#include "io_test_util.h"
#include "pickle_builder.h"
#include "test_support.h"

namespace um::io {
namespace {

using test::floats;
using test::Pk;
using test::write_pickle_ckpt;
using test::write_zip;

::testing::AssertionResult fails_with(const Status& s, StatusCode code, const std::string& needle) {
  if (s.ok()) return ::testing::AssertionFailure() << "unexpectedly OK";
  if (s.code() != code) {
    return ::testing::AssertionFailure() << "wrong code: " << s.to_string();
  }
  if (s.message().find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks '" << needle << "': " << s.to_string();
  }
  return ::testing::AssertionSuccess() << s.to_string();
}

// ---- images ----

std::vector<uint8_t> valid_png(const test::TempDir& dir) {
  Image img{40, 30, 1, std::vector<uint8_t>(40 * 30)};
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 31);
  const std::string p = dir.file("ok.png");
  EXPECT_TRUE(write_png(p, img).ok());
  return test::read_bytes(p);
}

TEST(BadImage, MissingFileIsNotFound) {
  EXPECT_TRUE(fails_with(read_image("/nonexistent/frame.png").status(), StatusCode::kNotFound,
                         "/nonexistent/frame.png"));
}

TEST(BadImage, GarbageAndEmptyFilesAreNotImages) {
  test::TempDir dir;
  test::write_text(dir.file("garbage.png"), "this is not an image at all");
  EXPECT_TRUE(fails_with(read_image(dir.file("garbage.png")).status(),
                         StatusCode::kInvalidArgument, "not a PNG or JPEG"));
  test::write_text(dir.file("empty.png"), "");
  EXPECT_TRUE(fails_with(read_image(dir.file("empty.png")).status(), StatusCode::kInvalidArgument,
                         "empty file"));
}

TEST(BadImage, TruncatedPngIsDataLoss) {
  test::TempDir dir;
  std::vector<uint8_t> png = valid_png(dir);
  for (size_t keep : {size_t{8}, size_t{20}, size_t{40}, png.size() / 2, png.size() - 13}) {
    SCOPED_TRACE(keep);
    std::vector<uint8_t> cut(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(keep));
    test::write_bytes(dir.file("cut.png"), cut);
    EXPECT_TRUE(fails_with(read_image(dir.file("cut.png")).status(), StatusCode::kDataLoss,
                           "corrupt PNG"));
  }
}

TEST(BadImage, CorruptPngChunkIsDataLoss) {
  test::TempDir dir;
  std::vector<uint8_t> png = valid_png(dir);
  png[20] ^= 0xFF;  // inside IHDR: its CRC no longer matches
  test::write_bytes(dir.file("crc.png"), png);
  EXPECT_TRUE(fails_with(read_image(dir.file("crc.png")).status(), StatusCode::kDataLoss, "CRC"));
}

TEST(BadImage, TruncatedJpegIsDataLoss) {
  test::TempDir dir;
  // SOI followed by junk: a JPEG by magic, but no decodable header.
  test::write_bytes(dir.file("bad.jpg"), {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F'});
  EXPECT_TRUE(fails_with(read_image(dir.file("bad.jpg")).status(), StatusCode::kDataLoss,
                         "corrupt JPEG"));
  // A real JPEG cut in the middle of its entropy-coded data.
  const int w = 64, h = 64;
  std::vector<uint8_t> src(w * h);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>((i * 7) ^ (i >> 3));
  tjhandle tj = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long jsize = 0;
  ASSERT_EQ(tjCompress2(tj, src.data(), w, 0, h, TJPF_GRAY, &jpeg, &jsize, TJSAMP_GRAY, 90, 0), 0);
  std::vector<uint8_t> cut(jpeg, jpeg + jsize / 2);
  tjFree(jpeg);
  tjDestroy(tj);
  test::write_bytes(dir.file("cut.jpg"), cut);
  EXPECT_TRUE(fails_with(read_image(dir.file("cut.jpg")).status(), StatusCode::kDataLoss,
                         "corrupt JPEG"));
}

TEST(BadImage, WritePngRejectsInconsistentImage) {
  test::TempDir dir;
  Image img{4, 4, 3, std::vector<uint8_t>(10)};
  EXPECT_TRUE(fails_with(write_png(dir.file("x.png"), img), StatusCode::kInvalidArgument,
                         "10 bytes of pixels"));
}

// ---- safetensors ----

std::vector<uint8_t> safetensors_bytes(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

TEST(BadSafetensors, HeaderAndOffsetsAreValidated) {
  test::TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  struct Case {
    std::vector<uint8_t> bytes;
    StatusCode code;
    const char* needle;
  } cases[] = {
      {{1, 2, 3}, StatusCode::kDataLoss, "header length"},
      {safetensors_bytes("{\"a\":", 0), StatusCode::kDataLoss, "not valid JSON"},
      {safetensors_bytes("[1,2]", 0), StatusCode::kDataLoss, "not a JSON object"},
      {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 8),
       StatusCode::kDataLoss, "'w'"},
      {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 16),
       StatusCode::kDataLoss, "do not hold 16 bytes"},
      {safetensors_bytes(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8),
       StatusCode::kInvalidArgument, "F64"},
      {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
       StatusCode::kDataLoss, "shape"},
      {safetensors_bytes(
           R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})", 4),
       StatusCode::kDataLoss, "impossible shape"},
  };
  for (const auto& c : cases) {
    test::write_bytes(p, c.bytes);
    EXPECT_TRUE(fails_with(read_safetensors(p).status(), c.code, c.needle));
  }
  // A header length larger than the file.
  auto big = safetensors_bytes("{}", 0);
  big[0] = 0xFF;
  test::write_bytes(p, big);
  EXPECT_TRUE(fails_with(read_safetensors(p).status(), StatusCode::kDataLoss, "JSON header"));
}

// ---- torch checkpoints ----

Status load_status(const std::string& path) { return load_checkpoint(path).status(); }

TEST(BadCheckpoint, HandBuiltPickleLoads) {
  // The builder itself is right: a well-formed one-tensor checkpoint loads, with a strided view.
  test::TempDir dir;
  Pk pk;
  pk.op('}').op('(').str("w").tensor("0", 4, 1, {3}, {1}).op('u').op('.');
  write_pickle_ckpt(dir.file("ok.pth"), pk);
  Result<Checkpoint> r = load_checkpoint(dir.file("ok.pth"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->layout, "plain");
  const Tensor& w = r->tensors.at("w");
  EXPECT_EQ(w.shape(), (Shape{3}));
  EXPECT_EQ(w.data<float>()[0], 2.0f);  // offset 1
  Pk t;
  t.op('}').op('(').str("w").tensor("0", 4, 0, {2, 2}, {1, 2}).op('u').op('.');  // transposed
  write_pickle_ckpt(dir.file("t.pth"), t);
  Result<Checkpoint> tr = load_checkpoint(dir.file("t.pth"));
  ASSERT_TRUE(tr.ok()) << tr.status().to_string();
  EXPECT_EQ(tr->tensors.at("w").data<float>()[1], 3.0f);  // [0][1] = storage[2]
}

TEST(BadCheckpoint, MissingEmptyAndGarbageFiles) {
  test::TempDir dir;
  EXPECT_TRUE(fails_with(load_status(dir.file("none.pth")), StatusCode::kNotFound, "none.pth"));
  test::write_text(dir.file("empty.pth"), "");
  EXPECT_TRUE(fails_with(load_status(dir.file("empty.pth")), StatusCode::kDataLoss, "too short"));
  test::write_text(dir.file("garbage.pth"), "definitely not a checkpoint");
  EXPECT_TRUE(fails_with(load_status(dir.file("garbage.pth")), StatusCode::kInvalidArgument,
                         "neither a torch.save zip archive nor a safetensors file"));
  test::write_bytes(dir.file("legacy.pth"), {0x80, 0x02, 0x8a, 0x0a});
  EXPECT_TRUE(fails_with(load_status(dir.file("legacy.pth")), StatusCode::kInvalidArgument,
                         "legacy"));
}

TEST(BadCheckpoint, TruncatedZipIsDataLoss) {
  test::TempDir dir;
  TensorMap sd;
  sd["w"] = Tensor::from_vector(std::vector<float>(256, 1.5f), {16, 16});
  ASSERT_TRUE(write_torch_checkpoint(dir.file("good.pth"), sd, "model").ok());
  const std::vector<uint8_t> good = test::read_bytes(dir.file("good.pth"));
  for (size_t keep : {size_t{30}, good.size() / 2, good.size() - 10}) {
    SCOPED_TRACE(keep);
    test::write_bytes(dir.file("cut.pth"),
                      std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(keep)));
    EXPECT_TRUE(fails_with(load_status(dir.file("cut.pth")), StatusCode::kDataLoss,
                           "not a readable zip archive"));
  }
}

TEST(BadCheckpoint, CorruptStorageBytesFailTheCrc) {
  test::TempDir dir;
  TensorMap sd;
  sd["w"] = Tensor::from_vector(std::vector<float>(256, 1.5f), {16, 16});
  ASSERT_TRUE(write_torch_checkpoint(dir.file("good.pth"), sd).ok());
  std::vector<uint8_t> bytes = test::read_bytes(dir.file("good.pth"));
  // The storage's 1024 bytes of 1.5f (00 00 c0 3f): flip one inside it.
  const uint8_t pattern[] = {0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0xc0, 0x3f};
  auto it = std::search(bytes.begin(), bytes.end(), std::begin(pattern), std::end(pattern));
  ASSERT_NE(it, bytes.end());
  it[100] ^= 0x40;
  test::write_bytes(dir.file("crc.pth"), bytes);
  const Status s = load_status(dir.file("crc.pth"));
  EXPECT_TRUE(fails_with(s, StatusCode::kDataLoss, "CRC"));
}

TEST(BadCheckpoint, CorruptedDataPklIsDataLoss) {
  test::TempDir dir;
  Pk pk;
  pk.op('}').op('(').str("w").tensor("0", 4, 0, {4}, {1}).op('u').op('.');
  const std::string full = pk.b;
  // Cut short: no STOP.
  Pk cut;
  cut.b = full.substr(0, full.size() / 2);
  write_pickle_ckpt(dir.file("cut.pth"), cut);
  EXPECT_TRUE(fails_with(load_status(dir.file("cut.pth")), StatusCode::kDataLoss, "data.pkl"));
  // Stack underflow and an undefined memo entry.
  write_pickle_ckpt(dir.file("under.pth"), Pk().op('s').op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("under.pth")), StatusCode::kDataLoss,
                         "stack underflow"));
  write_pickle_ckpt(dir.file("memo.pth"), Pk().raw("h\x05").op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("memo.pth")), StatusCode::kDataLoss,
                         "memo entry 5 is undefined"));
  // A string whose length runs past the end.
  write_pickle_ckpt(dir.file("len.pth"), Pk().raw(std::string("X\xff\xff\x00\x00" "ab", 7)));
  EXPECT_TRUE(fails_with(load_status(dir.file("len.pth")), StatusCode::kDataLoss, "truncated"));
  // Every single-byte corruption of a valid pickle: an error or a valid parse, never a crash.
  int errors = 0;
  for (size_t i = 2; i < full.size(); ++i) {
    Pk bad;
    bad.b = full;
    bad.b[i] = static_cast<char>(bad.b[i] ^ 0x5a);
    write_pickle_ckpt(dir.file("flip.pth"), bad);
    const Status s = load_status(dir.file("flip.pth"));
    if (!s.ok()) {
      ++errors;
      EXPECT_FALSE(s.message().empty());
    }
  }
  EXPECT_GT(errors, static_cast<int>(full.size()) / 2);
}

TEST(BadCheckpoint, ForbiddenGlobalsAreRefusedNotExecuted) {
  test::TempDir dir;
  // GLOBAL 'os\nsystem', then ('touch PWNED',) REDUCE: the classic malicious pickle.
  const std::string marker = dir.file("PWNED");
  write_pickle_ckpt(dir.file("os.pth"),
                    Pk().raw("cos\nsystem\n").str("touch " + marker).raw("\x85R").op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("os.pth")), StatusCode::kInvalidArgument,
                         "global 'os.system'"));
  EXPECT_FALSE(std::filesystem::exists(marker));
  // STACK_GLOBAL builtins.eval (protocol 4 form).
  Pk ev;
  ev.b = std::string("\x80\x04", 2);
  ev.raw(std::string("\x8c\x08" "builtins" "\x8c\x04" "eval" "\x93", 17)).op('.');
  write_pickle_ckpt(dir.file("eval.pth"), ev);
  EXPECT_TRUE(fails_with(load_status(dir.file("eval.pth")), StatusCode::kInvalidArgument,
                         "global 'builtins.eval'"));
  // INST / OBJ (class instantiation by name) are outside the subset even for harmless names.
  write_pickle_ckpt(dir.file("inst.pth"), Pk().op('(').raw("iposix\nsystem\n").op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("inst.pth")), StatusCode::kInvalidArgument,
                         "opcode INST"));
  // An allowed class used where only data may appear: a storage class cannot be called.
  write_pickle_ckpt(dir.file("call.pth"), Pk().raw("ctorch\nFloatStorage\n").op(')').op('R').op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("call.pth")), StatusCode::kInvalidArgument,
                         "cannot be called"));
}

TEST(BadCheckpoint, UnknownOpcodeIsRefused) {
  test::TempDir dir;
  write_pickle_ckpt(dir.file("op.pth"), Pk().op('\xff').op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("op.pth")), StatusCode::kInvalidArgument,
                         "unknown pickle opcode 0xff"));
  write_pickle_ckpt(dir.file("ext.pth"), Pk().raw("\x82\x01").op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("ext.pth")), StatusCode::kInvalidArgument,
                         "opcode EXT1"));
}

TEST(BadCheckpoint, StorageShorterThanClaimedIsDataLoss) {
  test::TempDir dir;
  Pk pk;
  pk.op('}').op('(').str("w").tensor("0", 100, 0, {100}, {1}).op('u').op('.');
  write_pickle_ckpt(dir.file("short.pth"), pk, floats({1, 2}));
  EXPECT_TRUE(fails_with(load_status(dir.file("short.pth")), StatusCode::kDataLoss,
                         "holds 8 bytes but the pickle describes 100 float32 elements"));
  // A view reaching past its storage, and a storage entry that is absent.
  Pk view;
  view.op('}').op('(').str("w").tensor("0", 4, 2, {3}, {1}).op('u').op('.');
  write_pickle_ckpt(dir.file("view.pth"), view);
  EXPECT_TRUE(fails_with(load_status(dir.file("view.pth")), StatusCode::kDataLoss,
                         "does not fit its storage"));
  Pk missing;
  missing.op('}').op('(').str("w").tensor("7", 4, 0, {4}, {1}).op('u').op('.');
  write_pickle_ckpt(dir.file("missing.pth"), missing);
  EXPECT_TRUE(fails_with(load_status(dir.file("missing.pth")), StatusCode::kDataLoss,
                         "no storage entry 'archive/data/7'"));
}

TEST(BadCheckpoint, ArchiveLevelProblems) {
  test::TempDir dir;
  write_zip(dir.file("nopkl.pth"), {{"archive/data/0", floats({1})}});
  EXPECT_TRUE(fails_with(load_status(dir.file("nopkl.pth")), StatusCode::kDataLoss, "no data.pkl"));
  write_zip(dir.file("script.pt"), {{"m/data.pkl", Pk().op('N').op('.').bytes()},
                                    {"m/constants.pkl", Pk().op('N').op('.').bytes()}});
  EXPECT_TRUE(fails_with(load_status(dir.file("script.pt")), StatusCode::kInvalidArgument,
                         "TorchScript"));
  write_zip(dir.file("big.pth"), {{"a/data.pkl", Pk().op('N').op('.').bytes()},
                                  {"a/byteorder", {'b', 'i', 'g'}}});
  EXPECT_TRUE(fails_with(load_status(dir.file("big.pth")), StatusCode::kInvalidArgument,
                         "little-endian"));
  write_pickle_ckpt(dir.file("nosd.pth"), Pk().op('}').op('(').str("epoch").num(3).op('u').op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("nosd.pth")), StatusCode::kInvalidArgument,
                         "no state dict found (top level is keys 'epoch'"));
}

TEST(BadCheckpoint, DeepNestingAndCyclesDoNotCrash) {
  test::TempDir dir;
  // 200000 nested lists: parsed and freed without recursion.
  Pk deep;
  for (int i = 0; i < 200000; ++i) deep.op(']');
  for (int i = 0; i < 199999; ++i) deep.op('a');
  deep.op('.');
  write_pickle_ckpt(dir.file("deep.pth"), deep);
  EXPECT_TRUE(fails_with(load_status(dir.file("deep.pth")), StatusCode::kInvalidArgument,
                         "no state dict"));
  // A list that contains itself (through the memo).
  write_pickle_ckpt(dir.file("cycle.pth"), Pk().raw("]q\x00h\x00").op('a').op('.'));
  EXPECT_TRUE(fails_with(load_status(dir.file("cycle.pth")), StatusCode::kInvalidArgument,
                         "no state dict"));
}

TEST(BadCheckpoint, MissingAndMisshapenTensorsThroughWeightSource) {
  test::TempDir dir;
  TensorMap sd;
  sd["backbone.conv.weight"] = Tensor::zeros({16, 3, 3, 3}).to(DType::kF16);
  ASSERT_TRUE(write_torch_checkpoint(dir.file("w.pth"), sd, "ema").ok());
  Result<Checkpoint> r = load_checkpoint(dir.file("w.pth"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  WeightSource w(r->tensors, "backbone.");
  try {
    (void)w.get("conv.bias", {16});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(fails_with(e.status(), StatusCode::kNotFound, "missing key 'backbone.conv.bias'"));
  }
  try {
    (void)w.get("conv.weight", {32, 3, 3, 3});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(fails_with(e.status(), StatusCode::kInvalidArgument,
                           "key 'backbone.conv.weight': expected shape [32, 3, 3, 3] but "
                           "checkpoint has [16, 3, 3, 3]"));
  }
}

// ---- the CLI ----

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

CliRun run_cli(const std::string& args, const test::TempDir& dir) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  const std::string cmd = "'" + test::cli_path().string() + "' " + args + " >'" + out + "' 2>'" +
                          err + "'";
  const int rc = std::system(cmd.c_str());
  CliRun r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  const auto o = test::read_bytes(out), e = test::read_bytes(err);
  r.out.assign(o.begin(), o.end());
  r.err.assign(e.begin(), e.end());
  return r;
}

TEST(InspectCheckpointCli, BadFileGivesOneErrorLineAndNonZeroExit) {
  ASSERT_TRUE(std::filesystem::exists(test::cli_path())) << test::cli_path();
  test::TempDir dir;
  TensorMap sd;
  sd["w"] = Tensor::from_vector(std::vector<float>(64, 1.0f), {8, 8});
  ASSERT_TRUE(write_torch_checkpoint(dir.file("good.pth"), sd).ok());
  const auto good = test::read_bytes(dir.file("good.pth"));
  test::write_bytes(dir.file("cut.pth"),
                    std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
  write_pickle_ckpt(dir.file("os.pth"), Pk().raw("cos\nsystem\n").op('.'));
  for (const char* name : {"cut.pth", "os.pth", "absent.pth"}) {
    SCOPED_TRACE(name);
    CliRun r = run_cli("inspect-checkpoint '" + dir.file(name) + "'", dir);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
  }
  CliRun ok = run_cli("inspect-checkpoint --json '" + dir.file("good.pth") + "'", dir);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("\"layout\": \"plain\""), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("\"total_parameters\": 64"), std::string::npos) << ok.out;
}

TEST(ConvertCheckpointCli, WritesFloat16CopyThatLoadsBackWithinRounding) {
  ASSERT_TRUE(std::filesystem::exists(test::cli_path())) << test::cli_path();
  test::TempDir dir;
  TensorMap sd;
  sd["w"] = Tensor::from_vector({0.1f, -2.5f, 3.14159f, 65504.f}, {2, 2});
  Tensor steps = Tensor::empty({1}, DType::kI64);
  steps.data<int64_t>()[0] = 7;
  sd["num_batches_tracked"] = steps;
  ASSERT_TRUE(write_torch_checkpoint(dir.file("in.pth"), sd, "ema").ok());
  CliRun r = run_cli("convert-checkpoint '" + dir.file("in.pth") + "' '" + dir.file("out.pth") + "'", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Result<Checkpoint> back = load_checkpoint(dir.file("out.pth"));
  ASSERT_TRUE(back.ok()) << back.status().message();
  const Tensor w = back->tensors.at("w");
  ASSERT_EQ(w.dtype(), DType::kF16);
  const Tensor w32 = w.to(DType::kF32);
  for (int i = 0; i < 4; ++i) {
    const float ref = sd["w"].data<float>()[i];
    EXPECT_NEAR(w32.data<float>()[i], ref, std::fabs(ref) * 1e-3f) << i;
  }
  EXPECT_EQ(back->tensors.at("num_batches_tracked").dtype(), DType::kI64);
  EXPECT_EQ(back->tensors.at("num_batches_tracked").data<int64_t>()[0], 7);
  // A bad dtype or an unreadable input: one error line, non-zero exit.
  for (const std::string args : {"--dtype f8 '" + dir.file("in.pth") + "' '" + dir.file("x.pth") + "'",
                                 "'" + dir.file("absent.pth") + "' '" + dir.file("x.pth") + "'"}) {
    CliRun bad = run_cli("convert-checkpoint " + args, dir);
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_EQ(bad.err.rfind("error: ", 0), 0u) << bad.err;
  }
}

}  // namespace
}  // namespace um::io
