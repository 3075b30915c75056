// File: apps/ultramotion/cmd_convert.cpp
// Purpose: `ultramotion convert-checkpoint IN OUT [--dtype f16|f32] [--layout plain|ema|model]`:
// rewrites a checkpoint (.pt/.pth or .safetensors) as a torch zip checkpoint with every
// floating-point tensor stored in the chosen dtype (integers untouched). A float16 copy halves
// the file for deployment (the models upcast at load, and the GPU fp16 path rounds to float16
// anyway); it is also how the GPU machine receives the reference checkpoints within its 64 MiB.
// Errors (unreadable input, unwritable output, unknown dtype) exit 1 with one "error:" line.
#include <cstdio>
#include <memory>
#include <string>

#include "command_registry.h"
#include "core/status.h"
#include "io/checkpoint.h"

namespace {

struct ConvertOptions {
  std::string input, output, dtype = "f16", layout = "plain";
};

bool is_float(um::DType t) {
  return t == um::DType::kF32 || t == um::DType::kF16 || t == um::DType::kBF16;
}

void run_convert(const ConvertOptions& opt) {
  um::DType target;
  if (opt.dtype == "f16") {
    target = um::DType::kF16;
  } else if (opt.dtype == "f32") {
    target = um::DType::kF32;
  } else {
    throw um::Error(um::StatusCode::kInvalidArgument, "--dtype must be f16 or f32, got '" + opt.dtype + "'");
  }
  um::Result<um::io::Checkpoint> r = um::io::load_checkpoint(opt.input);
  um::throw_if_error(r.status());
  um::io::TensorMap out;
  size_t converted = 0;
  for (const auto& [key, t] : r->tensors) {
    if (is_float(t.dtype()) && t.dtype() != target) {
      out[key] = t.to(target);
      ++converted;
    } else {
      out[key] = t.contiguous();
    }
  }
  um::throw_if_error(um::io::write_torch_checkpoint(opt.output, out, opt.layout));
  std::printf("%s -> %s: %zu tensors, %zu converted to %s (layout %s)\n", opt.input.c_str(),
              opt.output.c_str(), out.size(), converted, um::dtype_name(target), opt.layout.c_str());
}

void register_convert_checkpoint(CLI::App& app) {
  auto opt = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert-checkpoint", "Rewrite a checkpoint with its float tensors in another dtype");
  cmd->add_option("input", opt->input, "checkpoint to read (.pt/.pth or .safetensors)")->required();
  cmd->add_option("output", opt->output, "torch zip checkpoint to write")->required();
  cmd->add_option("--dtype", opt->dtype, "f16 (default) or f32");
  cmd->add_option("--layout", opt->layout, "plain (default), ema, model, state_dict, ...");
  cmd->callback([opt] { run_convert(*opt); });
}

}  // namespace

UM_REGISTER_COMMAND(register_convert_checkpoint);
