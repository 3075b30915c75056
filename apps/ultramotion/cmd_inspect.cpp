// File: apps/ultramotion/cmd_inspect.cpp
// Purpose: `ultramotion inspect-checkpoint PATH [--json]`: what a checkpoint holds, read without
// Python: the layout found (ema / model / state_dict / plain / safetensors ...), the number of
// tensors, the total element count, and every key with its dtype and shape.
// A file that cannot be read exits 1 with one "error: <CODE>: <message>" line (main.cpp).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command_registry.h"
#include "core/status.h"
#include "io/checkpoint.h"

namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
};

void run_inspect(const InspectOptions& opt) {
  um::Result<um::io::Checkpoint> r = um::io::load_checkpoint(opt.path);
  um::throw_if_error(r.status());
  const um::io::Checkpoint& ckpt = *r;
  int64_t total = 0;
  for (const auto& [key, t] : ckpt.tensors) total += t.numel();

  if (opt.json) {
    nlohmann::ordered_json out;
    out["path"] = opt.path;
    out["layout"] = ckpt.layout;
    out["num_tensors"] = ckpt.tensors.size();
    out["total_parameters"] = total;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& [key, t] : ckpt.tensors) {
      list.push_back({{"key", key}, {"dtype", um::dtype_name(t.dtype())}, {"shape", t.shape()}});
    }
    out["tensors"] = std::move(list);
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("checkpoint: %s\nlayout: %s\ntensors: %zu\ntotal parameters: %lld\n",
              opt.path.c_str(), ckpt.layout.c_str(), ckpt.tensors.size(),
              static_cast<long long>(total));
  size_t width = 0;
  for (const auto& [key, t] : ckpt.tensors) width = std::max(width, key.size());
  for (const auto& [key, t] : ckpt.tensors) {
    std::printf("  %-*s  %-8s  %s\n", static_cast<int>(width), key.c_str(),
                um::dtype_name(t.dtype()), um::shape_str(t.shape()).c_str());
  }
}

void register_inspect_checkpoint(CLI::App& app) {
  auto opt = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect-checkpoint", "List the tensors of a checkpoint (.pt/.pth or .safetensors)");
  cmd->add_option("path", opt->path, "checkpoint file")->required();
  cmd->add_flag("--json", opt->json, "print JSON: layout, num_tensors, total_parameters, tensors");
  cmd->callback([opt] { run_inspect(*opt); });
}

}  // namespace

UM_REGISTER_COMMAND(register_inspect_checkpoint);
