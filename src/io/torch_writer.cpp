// File: src/io/torch_writer.cpp
// Purpose: write a checkpoint in torch.save's zip format (protocol-2 pickle + raw storages), so
// tests and tools can produce .pth files without Python: e.g. a D-FINE of another variant for
// a load-and-run test, or a deliberately broken file for a bad-input test. What it writes is
// what torch.save writes for a state dict: an OrderedDict of _rebuild_tensor_v2 calls whose
// persistent ids ('storage', torch.<Type>Storage, key, 'cpu', numel) name <prefix>/data/<key>.
#include <zip.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "io/checkpoint.h"

namespace um::io {
namespace {

class PickleWriter {
 public:
  std::vector<uint8_t>& bytes() { return out_; }
  void op(uint8_t o) { out_.push_back(o); }
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void global(const char* module, const char* name) {
    op('c');
    raw(module, std::strlen(module));
    op('\n');
    raw(name, std::strlen(name));
    op('\n');
  }
  void str(const std::string& s) {
    op('X');  // BINUNICODE
    const uint32_t n = static_cast<uint32_t>(s.size());
    raw(&n, 4);
    raw(s.data(), s.size());
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');  // BININT
      const int32_t x = static_cast<int32_t>(v);
      raw(&x, 4);
    } else {
      op(0x8a);  // LONG1, 8 bytes two's complement
      op(8);
      raw(&v, 8);
    }
  }
  void int_tuple(const Shape& s) {
    op('(');
    for (int64_t d : s) integer(d);
    op('t');
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
  }

 private:
  std::vector<uint8_t> out_;
};

const char* storage_class(DType t) {
  switch (t) {
    case DType::kF32: return "FloatStorage";
    case DType::kF16: return "HalfStorage";
    case DType::kBF16: return "BFloat16Storage";
    case DType::kI64: return "LongStorage";
    case DType::kI32: return "IntStorage";
    case DType::kU8: return "ByteStorage";
    case DType::kBool: return "BoolStorage";
  }
  return "ByteStorage";
}

// The state dict: OrderedDict([(key, _rebuild_tensor_v2(storage, 0, size, stride, False,
// OrderedDict())), ...]); storage keys are "0", "1", ... in key order.
void write_state_dict(PickleWriter& w, const std::vector<std::pair<std::string, Tensor>>& ts) {
  w.empty_ordered_dict();
  w.op('(');
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor& t = ts[i].second;
    w.str(ts[i].first);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op('(');
    w.op('(');
    w.str("storage");
    w.global("torch", storage_class(t.dtype()));
    w.str(std::to_string(i));
    w.str("cpu");
    w.integer(t.numel());
    w.op('t');
    w.op('Q');  // BINPERSID
    w.integer(0);
    w.int_tuple(t.shape());
    w.int_tuple(contiguous_strides(t.shape()));
    w.op(0x89);  // NEWFALSE: requires_grad
    w.empty_ordered_dict();  // backward_hooks
    w.op('t');
    w.op('R');
  }
  w.op('u');  // SETITEMS
}

struct ZipCloser {
  void operator()(zip_t* z) const {
    if (z != nullptr) zip_discard(z);
  }
};

Status add_entry(zip_t* zip, const std::string& name, const void* data, size_t size) {
  zip_source_t* src = zip_source_buffer(zip, data, size, 0);
  if (src == nullptr) return data_loss(std::string("zip: ") + zip_strerror(zip));
  const zip_int64_t idx = zip_file_add(zip, name.c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8);
  if (idx < 0) {
    zip_source_free(src);
    return data_loss("zip: adding '" + name + "': " + zip_strerror(zip));
  }
  zip_set_file_compression(zip, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);  // as torch
  return Status::Ok();
}

}  // namespace

Status write_torch_checkpoint(const std::string& path, const TensorMap& tensors,
                              const std::string& layout) {
  std::vector<std::pair<std::string, Tensor>> ts;
  for (const auto& [k, t] : tensors) {
    if (!t.defined() || !t.device().is_cpu()) {
      return invalid_argument("write_torch_checkpoint: tensor '" + k + "' is not a CPU tensor");
    }
    ts.emplace_back(k, t.contiguous());
  }
  PickleWriter w;
  w.op(0x80);
  w.op(2);
  if (layout == "plain") {
    write_state_dict(w, ts);
  } else if (layout == "ema") {  // {'ema': {'module': sd, 'updates': 0}, 'last_epoch': 0}
    w.op('}');
    w.op('(');
    w.str("ema");
    w.op('}');
    w.op('(');
    w.str("module");
    write_state_dict(w, ts);
    w.str("updates");
    w.integer(0);
    w.op('u');
    w.str("last_epoch");
    w.integer(0);
    w.op('u');
  } else if (layout == "model" || layout == "state_dict" || layout == "model_state_dict" ||
             layout == "weights" || layout == "net") {
    w.op('}');
    w.op('(');
    w.str(layout);
    write_state_dict(w, ts);
    w.str("last_epoch");
    w.integer(0);
    w.op('u');
  } else {
    return invalid_argument("write_torch_checkpoint: unknown layout '" + layout + "'");
  }
  w.op('.');

  // torch names the archive's top folder after the file.
  std::string prefix = std::filesystem::path(path).stem().string();
  if (prefix.empty()) prefix = "archive";
  prefix += "/";
  int code = 0;
  std::unique_ptr<zip_t, ZipCloser> zip(zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (!zip) return data_loss("cannot create " + path + " (libzip error " + std::to_string(code) + ")");
  static const char kVersion[] = "3\n";
  static const char kByteOrder[] = "little";
  UM_RETURN_IF_ERROR(add_entry(zip.get(), prefix + "data.pkl", w.bytes().data(), w.bytes().size()));
  UM_RETURN_IF_ERROR(add_entry(zip.get(), prefix + "byteorder", kByteOrder, 6));
  for (size_t i = 0; i < ts.size(); ++i) {
    UM_RETURN_IF_ERROR(add_entry(zip.get(), prefix + "data/" + std::to_string(i),
                                 ts[i].second.raw_data(), ts[i].second.nbytes()));
  }
  UM_RETURN_IF_ERROR(add_entry(zip.get(), prefix + "version", kVersion, 2));
  // zip_close writes everything (the buffers above are still alive); on success it frees.
  if (zip_close(zip.get()) != 0) return data_loss("writing " + path + ": " + zip_strerror(zip.get()));
  zip.release();
  return Status::Ok();
}

}  // namespace um::io
