// File: src/io/checkpoint.cpp
// Purpose: load_checkpoint: picks the reader by the file's magic bytes (zip -> torch.save,
// otherwise safetensors), finds the state dict inside the usual training-script wrappers, and
// materialises only its tensors (optimizer state and the like are parsed but never read).
#include "io/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>

#include "io/safetensors.h"
#include "io/torch_zip.h"

namespace um::io {
namespace {

using pickle::Kind;
using pickle::Value;

// True for a dict with string keys holding at least one tensor: what a state dict looks like.
bool is_state_dict(const Value* v) {
  if (v == nullptr || v->kind != Kind::kDict) return false;
  bool any_tensor = false;
  for (const auto& [k, x] : v->entries) {
    if (k->kind != Kind::kString) return false;
    any_tensor = any_tensor || x->kind == Kind::kTensor;
  }
  return any_tensor;
}

// The wrappers, in order of preference (checkpoint.h): EMA weights first, as D-FINE evaluates.
const Value* find_state_dict(const Value* root, std::string* layout) {
  if (const Value* ema = root->get("ema")) {
    if (const Value* m = ema->get("module"); is_state_dict(m)) {
      *layout = "ema";
      return m;
    }
    if (is_state_dict(ema)) {
      *layout = "ema";
      return ema;
    }
  }
  for (const char* key : {"model", "state_dict", "model_state_dict", "weights", "net"}) {
    if (const Value* v = root->get(key); is_state_dict(v)) {
      *layout = key;
      return v;
    }
  }
  if (is_state_dict(root)) {
    *layout = "plain";
    return root;
  }
  return nullptr;
}

std::string top_level_keys(const Value* root) {
  if (root->kind != Kind::kDict) return std::string("a ") + pickle::kind_name(root->kind);
  std::string out;
  int shown = 0;
  for (const auto& [k, v] : root->entries) {
    if (k->kind != Kind::kString) continue;
    if (shown++ == 8) {
      out += ", ...";
      break;
    }
    out += (out.empty() ? "'" : ", '") + k->s + "'";
  }
  return "keys " + (out.empty() ? std::string("(none)") : out);
}

// Strips a "module." (DataParallel / DDP) prefix when every key has it.
void strip_module_prefix(TensorMap* tensors) {
  static const std::string kPrefix = "module.";
  if (tensors->empty()) return;
  for (const auto& [k, v] : *tensors) {
    if (k.compare(0, kPrefix.size(), kPrefix) != 0) return;
  }
  TensorMap out;
  for (auto& [k, v] : *tensors) out.emplace(k.substr(kPrefix.size()), std::move(v));
  *tensors = std::move(out);
}

Result<Checkpoint> load_torch_zip(const std::string& path) {
  UM_ASSIGN_OR_RETURN(std::unique_ptr<TorchZip> zip, TorchZip::open(path));
  const Value* root = zip->root();
  Checkpoint ckpt;
  const Value* sd = find_state_dict(root, &ckpt.layout);
  if (sd == nullptr) {
    return invalid_argument(path + ": no state dict found (top level is " + top_level_keys(root) +
                            "; expected 'ema'/'module', 'model', 'state_dict', "
                            "'model_state_dict', 'weights', 'net' or a plain state dict)");
  }
  for (const auto& [k, v] : sd->entries) {
    if (v->kind != Kind::kTensor) continue;  // e.g. '_metadata' entries, counters
    Result<Tensor> t = zip->tensor(*v);
    if (!t.ok()) return t.status().with_context("tensor '" + k->s + "'");
    ckpt.tensors[k->s] = std::move(t).value();
  }
  strip_module_prefix(&ckpt.tensors);
  return ckpt;
}

Result<Checkpoint> load_any(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found("no such file: " + path);
  if (!std::filesystem::is_regular_file(path, ec)) return invalid_argument(path + " is not a file");
  uint8_t magic[9] = {0};
  size_t got = 0;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    got = std::fread(magic, 1, sizeof(magic), f);
    std::fclose(f);
  } else {
    return not_found("cannot open " + path);
  }
  if (got >= 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0) return load_torch_zip(path);
  if (got >= 2 && magic[0] == 0x80 && magic[1] <= 5) {
    return invalid_argument(path + " uses torch's legacy (pre-1.6) serialization; re-save it "
                                   "with a current torch.save");
  }
  if (got == 9 && magic[8] == '{') {
    UM_ASSIGN_OR_RETURN(TensorMap tensors, read_safetensors(path));
    Checkpoint ckpt{std::move(tensors), "safetensors"};
    strip_module_prefix(&ckpt.tensors);
    return ckpt;
  }
  if (got < 4) return data_loss(path + ": file too short to be a checkpoint (" + std::to_string(got) + " bytes)");
  return invalid_argument(path + ": neither a torch.save zip archive nor a safetensors file");
}

}  // namespace

Result<Checkpoint> load_checkpoint(const std::string& path) {
  // Tensor code throws um::Error (e.g. out of memory); this API returns Status only.
  try {
    return load_any(path);
  } catch (const Error& e) {
    return e.status().with_context(path);
  } catch (const std::bad_alloc&) {
    return resource_exhausted(path + ": out of memory while loading");
  }
}

}  // namespace um::io
