// File: apps/ultramotion/cmd_phantom.cpp
// Purpose: `ultramotion phantom --out DIR`: writes built-in phantom frames (PHANTOM.md) and their
// ground truth to a folder, for folder replay in the simulator, for looking at, and for checking
// other tools against the same frames.
//   ultramotion phantom --out DIR [--frames N] [--seed S] [--size HxW] [--stream] [--fps F]
// Writes DIR/frame_00000.png (8-bit gray), DIR/mask_00000.png (ground truth, 0/255) and
// DIR/truth.json: {"seed", "stream", "frames": [{"index", "frame", "mask", "width", "height",
// "has_bone", "box": [x0, y0, x1, y1) or null, "params": {...}}]}.
// Default: independent frames cycling the demo sizes; --stream: the smoothly moving sequence
// (one size, default 558x422) the simulator plays.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "core/status.h"
#include "io/image.h"
#include "pipeline/phantom.h"
#include "pipeline/phantom_stream.h"

namespace um::cli {
namespace {

struct PhantomArgs {
  std::string out;
  int frames = 20;
  uint64_t seed = 0;
  std::string size;
  bool stream = false;
  double fps = 25.0;
};

nlohmann::json params_json(const pipeline::PhantomParams& p) {
  return {{"cx", p.cx},         {"cy", p.cy},
          {"r", p.r},           {"half", p.half},
          {"th", p.th},         {"wobble", p.wobble},
          {"freq", p.freq},     {"base", p.base},
          {"amp", p.amp},       {"k", p.k},
          {"tissue_amp", p.tissue_amp}, {"tissue_y", p.tissue_y},
          {"tissue_slope", p.tissue_slope}, {"tissue_width", p.tissue_width},
          {"echo", p.echo},     {"shadow", p.shadow}};
}

void write_phantom(const PhantomArgs& a) {
  namespace fs = std::filesystem;
  if (a.out.empty()) throw Error(invalid_argument("phantom: --out DIR is required"));
  if (a.frames < 1) {
    throw Error(invalid_argument("phantom: --frames must be >= 1, got " + std::to_string(a.frames)));
  }
  if (!(a.fps > 0)) throw Error(invalid_argument("phantom: --fps must be > 0"));
  std::optional<pipeline::FrameSize> size;
  if (!a.size.empty()) size = pipeline::parse_frame_size(a.size).value();
  std::error_code ec;
  if (fs::exists(a.out, ec) && !fs::is_directory(a.out, ec)) {
    throw Error(invalid_argument("phantom: --out '" + a.out + "' exists and is not a folder"));
  }
  fs::create_directories(a.out, ec);
  if (ec) throw Error(unavailable("phantom: cannot create '" + a.out + "': " + ec.message()));

  std::unique_ptr<pipeline::PhantomGenerator> gen;
  std::unique_ptr<pipeline::PhantomStream> stream;
  if (a.stream) {
    pipeline::PhantomStreamOptions so;
    if (size) so.size = *size;
    so.fps = a.fps;
    stream = std::make_unique<pipeline::PhantomStream>(a.seed, so);
  } else {
    gen = std::make_unique<pipeline::PhantomGenerator>(a.seed, size);
  }
  nlohmann::json frames = nlohmann::json::array();
  for (int i = 0; i < a.frames; ++i) {
    const pipeline::PhantomFrame f = a.stream ? stream->next() : gen->next();
    char name[32], mask_name[32];
    std::snprintf(name, sizeof(name), "frame_%05d.png", i);
    std::snprintf(mask_name, sizeof(mask_name), "mask_%05d.png", i);
    const int w = f.params.width, h = f.params.height;
    throw_if_error(io::write_png((fs::path(a.out) / name).string(), io::Image{w, h, 1, f.pixels}));
    io::Image mask{w, h, 1, f.mask};
    for (auto& v : mask.pixels) v = v ? 255 : 0;
    throw_if_error(io::write_png((fs::path(a.out) / mask_name).string(), mask));
    nlohmann::json box = nullptr;
    if (f.has_box) box = {f.box[0], f.box[1], f.box[2], f.box[3]};
    frames.push_back({{"index", i},         {"frame", name},   {"mask", mask_name},
                      {"width", w},         {"height", h},     {"has_bone", f.params.has_bone},
                      {"box", box},         {"params", params_json(f.params)}});
  }
  const nlohmann::json doc = {{"seed", a.seed}, {"stream", a.stream}, {"fps", a.fps},
                              {"box_convention", "[x0, y0, x1, y1) pixels"}, {"frames", frames}};
  std::ofstream(fs::path(a.out) / "truth.json") << doc.dump(1) << "\n";
  std::printf("wrote %d phantom frames, masks and truth.json to %s\n", a.frames, a.out.c_str());
}

void register_phantom(CLI::App& app) {
  auto args = std::make_shared<PhantomArgs>();
  CLI::App* cmd = app.add_subcommand(
      "phantom", "Write built-in phantom frames and their ground truth to a folder");
  cmd->add_option("--out", args->out, "output folder (created if missing)")->required();
  cmd->add_option("--frames", args->frames, "number of frames")->capture_default_str();
  cmd->add_option("--seed", args->seed, "generator seed")->capture_default_str();
  cmd->add_option("--size", args->size, "one frame size HxW (default: cycle the demo sizes; "
                                        "558x422 with --stream)");
  cmd->add_flag("--stream", args->stream, "the smoothly moving sequence instead of independent "
                                          "frames");
  cmd->add_option("--fps", args->fps, "frame rate the motion is scaled for (--stream)")
      ->capture_default_str();
  cmd->callback([args] { write_phantom(*args); });
}

}  // namespace

UM_REGISTER_COMMAND(register_phantom);

}  // namespace um::cli
