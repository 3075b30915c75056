// Tests for `ultramotion phantom`: the files it writes are exactly the generator's frames and
// ground truth, and bad options fail with a clear message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/image.h"
#include "pipeline/phantom.h"
#include "pipeline/phantom_stream.h"
#include "test_support.h"

namespace um::pipeline {
namespace {

namespace fs = std::filesystem;

// Exit code of `ultramotion <args>`; what it printed (stdout and stderr) is appended to *out.
int run_cli(const std::string& args, std::string* out) {
  const test::CliRun r = test::run_cli(args);
  *out += r.out;
  return r.exit_code;
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("um_phantom_cli_" + name + "_" +
                                                  std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

void expect_matches(const fs::path& dir, const nlohmann::json& entry, const PhantomFrame& f) {
  const io::Image img = io::read_image((dir / entry["frame"].get<std::string>()).string()).value();
  ASSERT_EQ(img.channels, 1);
  EXPECT_EQ(img.width, f.params.width);
  EXPECT_EQ(img.height, f.params.height);
  EXPECT_EQ(img.pixels, f.pixels);
  io::Image mask = io::read_image((dir / entry["mask"].get<std::string>()).string()).value();
  for (auto& v : mask.pixels) v = v ? 1 : 0;
  EXPECT_EQ(mask.pixels, f.mask);
  EXPECT_EQ(entry["has_bone"].get<bool>(), f.params.has_bone);
  if (f.has_box) {
    EXPECT_EQ(entry["box"], nlohmann::json({f.box[0], f.box[1], f.box[2], f.box[3]}));
  } else {
    EXPECT_TRUE(entry["box"].is_null());
  }
}

TEST(PhantomCli, WritesTheGeneratorsFramesAndTruth) {
  const fs::path dir = temp_dir("frames");
  std::string out;
  ASSERT_EQ(run_cli("phantom --out " + dir.string() + " --frames 3 --seed 2", &out), 0) << out;
  std::ifstream in(dir / "truth.json");
  const nlohmann::json doc = nlohmann::json::parse(in);
  ASSERT_EQ(doc["frames"].size(), 3u);
  PhantomGenerator gen(2);
  for (int i = 0; i < 3; ++i) expect_matches(dir, doc["frames"][i], gen.next());
  fs::remove_all(dir);
}

TEST(PhantomCli, StreamModeWritesTheMovingSequence) {
  const fs::path dir = temp_dir("stream");
  std::string out;
  ASSERT_EQ(run_cli("phantom --out " + dir.string() + " --frames 2 --seed 4 --stream --size 300x200",
                    &out), 0) << out;
  std::ifstream in(dir / "truth.json");
  const nlohmann::json doc = nlohmann::json::parse(in);
  PhantomStream stream(4, {.size = {300, 200}});
  for (int i = 0; i < 2; ++i) expect_matches(dir, doc["frames"][i], stream.next());
  fs::remove_all(dir);
}

TEST(PhantomCli, BadOptionsFailClearly) {
  const fs::path dir = temp_dir("bad");
  fs::create_directories(dir);
  const fs::path file = dir / "a_file";
  std::ofstream(file) << "x";
  std::string out;
  EXPECT_EQ(run_cli("phantom --out " + file.string() + " --frames 1", &out), 1);
  EXPECT_NE(out.find("not a folder"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_cli("phantom --out " + dir.string() + " --size 12x12", &out), 1);
  EXPECT_NE(out.find("12x12"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_cli("phantom --out " + dir.string() + " --frames 0", &out), 1);
  EXPECT_NE(out.find("--frames"), std::string::npos) << out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace um::pipeline
