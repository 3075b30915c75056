// File: src/io/torch_zip.cpp
// Purpose: the torch.save zip container (libzip) and the storage -> Tensor step. Every size the
// archive or the pickle claims is checked against what is really there before it is used.
#include "io/torch_zip.h"

#include <zip.h>

#include <cstring>
#include <filesystem>
#include <limits>

namespace um::io {
namespace {

using pickle::StorageType;

constexpr uint64_t kMaxPickleBytes = 1ull << 30;

std::string zip_error_message(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string msg = zip_error_strerror(&e);
  zip_error_fini(&e);
  return msg;
}

// Reads a whole entry into dst (exactly st.size bytes), then one more read so that libzip
// reaches the end of the entry and verifies its CRC.
Status read_entry_to(zip_t* zip, const zip_stat_t& st, uint8_t* dst, const std::string& name) {
  zip_file_t* f = zip_fopen_index(zip, st.index, 0);
  if (f == nullptr) return data_loss("cannot open zip entry '" + name + "': " + zip_strerror(zip));
  struct Closer {
    zip_file_t* f;
    ~Closer() { zip_fclose(f); }
  } closer{f};
  uint64_t done = 0;
  while (done < st.size) {
    const zip_int64_t r = zip_fread(f, dst + done, st.size - done);
    if (r < 0) return data_loss("reading zip entry '" + name + "': " + zip_file_strerror(f));
    if (r == 0) {
      return data_loss("zip entry '" + name + "' ended after " + std::to_string(done) + " of " +
                       std::to_string(st.size) + " bytes (truncated archive?)");
    }
    done += static_cast<uint64_t>(r);
  }
  uint8_t extra = 0;
  const zip_int64_t r = zip_fread(f, &extra, 1);
  if (r < 0) return data_loss("reading zip entry '" + name + "': " + zip_file_strerror(f));
  if (r > 0) return data_loss("zip entry '" + name + "' is longer than its directory says");
  return Status::Ok();
}

DType tensor_dtype(StorageType t) {
  switch (t) {
    case StorageType::kF32:
    case StorageType::kF64: return DType::kF32;
    case StorageType::kF16: return DType::kF16;
    case StorageType::kBF16: return DType::kBF16;
    case StorageType::kI64: return DType::kI64;
    case StorageType::kI32:
    case StorageType::kI16:
    case StorageType::kI8: return DType::kI32;
    case StorageType::kU8: return DType::kU8;
    case StorageType::kBool: return DType::kBool;
  }
  return DType::kU8;
}

// float64 / int8 / int16 storages have no Tensor dtype: widen or narrow them once, here.
std::shared_ptr<Storage> convert_storage(const std::shared_ptr<Storage>& raw, StorageType t,
                                         int64_t numel) {
  const size_t n = static_cast<size_t>(numel);
  auto out = Storage::allocate(n * 4, Device::cpu());
  const uint8_t* src = static_cast<const uint8_t*>(raw->data());
  for (size_t i = 0; i < n; ++i) {
    if (t == StorageType::kF64) {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      static_cast<float*>(out->data())[i] = static_cast<float>(d);
    } else if (t == StorageType::kI16) {
      int16_t v;
      std::memcpy(&v, src + 2 * i, 2);
      static_cast<int32_t*>(out->data())[i] = v;
    } else {
      static_cast<int32_t*>(out->data())[i] = static_cast<int8_t>(src[i]);
    }
  }
  return out;
}

}  // namespace

TorchZip::~TorchZip() {
  if (zip_ != nullptr) zip_discard(zip_);  // read-only: nothing to write back
}

Result<std::unique_ptr<TorchZip>> TorchZip::open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return not_found("no such file: " + path);
  std::unique_ptr<TorchZip> z(new TorchZip());
  z->path_ = path;
  z->file_size_ = std::filesystem::file_size(path, ec);
  int code = 0;
  z->zip_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (z->zip_ == nullptr) {
    return data_loss(path + ": not a readable zip archive (" + zip_error_message(code) +
                     "); truncated or corrupt checkpoint?");
  }
  // Find <prefix>/data.pkl (torch writes one top folder named after the file).
  const zip_int64_t n = zip_get_num_entries(z->zip_, 0);
  std::string pkl;
  bool torchscript = false;
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(z->zip_, static_cast<zip_uint64_t>(i), 0);
    if (name == nullptr) continue;
    const std::string s = name;
    const size_t slash = s.find('/');
    const std::string rest = slash == std::string::npos ? s : s.substr(slash + 1);
    if (rest == "constants.pkl") torchscript = true;
    if (rest == "data.pkl" && pkl.empty()) pkl = s;
  }
  if (torchscript) {
    return invalid_argument(path + " is a TorchScript archive (torch.jit.save), not a checkpoint; "
                                   "save the weights with torch.save(model.state_dict(), ...)");
  }
  if (pkl.empty()) return data_loss(path + ": zip archive has no data.pkl (not a torch.save file)");
  z->prefix_ = pkl.substr(0, pkl.size() - std::strlen("data.pkl"));

  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(z->zip_, (z->prefix_ + "byteorder").c_str(), 0, &st) == 0) {
    UM_ASSIGN_OR_RETURN(std::vector<uint8_t> order, z->read_entry(z->prefix_ + "byteorder", 16));
    const std::string o(order.begin(), order.end());
    if (o.rfind("little", 0) != 0) {
      return invalid_argument(path + ": storages are '" + o + "'-endian; only little-endian "
                                     "checkpoints are supported");
    }
  }
  UM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, z->read_entry(pkl, kMaxPickleBytes));
  Result<pickle::Document> doc = pickle::parse(bytes.data(), bytes.size(), path + ":" + pkl);
  if (!doc.ok()) return doc.status();
  z->doc_ = std::move(doc).value();
  return z;
}

Result<std::vector<uint8_t>> TorchZip::read_entry(const std::string& name, uint64_t max_bytes) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(zip_, name.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
    return data_loss(path_ + ": archive has no entry '" + name + "'");
  }
  if (st.size > max_bytes) {
    return data_loss(path_ + ": entry '" + name + "' claims " + std::to_string(st.size) +
                     " bytes, more than plausible");
  }
  std::vector<uint8_t> out(static_cast<size_t>(st.size));
  UM_RETURN_IF_ERROR_CTX(read_entry_to(zip_, st, out.data(), name), path_);
  return out;
}

Result<std::shared_ptr<Storage>> TorchZip::storage(const pickle::Value& sv) {
  if (auto it = storages_.find(sv.s); it != storages_.end()) return it->second;
  const std::string name = prefix_ + "data/" + sv.s;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(zip_, name.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
    return data_loss(path_ + ": archive has no storage entry '" + name + "'");
  }
  const uint64_t elem = pickle::storage_type_size(sv.storage_type);
  const uint64_t numel = static_cast<uint64_t>(sv.numel);
  if (numel > std::numeric_limits<uint64_t>::max() / elem || st.size < numel * elem) {
    return data_loss(path_ + ": storage entry '" + name + "' holds " + std::to_string(st.size) +
                     " bytes but the pickle describes " + std::to_string(sv.numel) + " " +
                     pickle::storage_type_name(sv.storage_type) + " elements (" +
                     std::to_string(numel * elem) + " bytes)");
  }
  // A stored (uncompressed) entry cannot be larger than the archive; this keeps a corrupt
  // directory from making us allocate more than the file could hold.
  if ((st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size > file_size_) {
    return data_loss(path_ + ": storage entry '" + name + "' is larger than the archive");
  }
  if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE && st.size > file_size_) {
    return data_loss(path_ + ": storage entry '" + name + "' is larger than the archive");
  }
  auto raw = Storage::allocate(static_cast<size_t>(st.size), Device::cpu());
  UM_RETURN_IF_ERROR_CTX(read_entry_to(zip_, st, static_cast<uint8_t*>(raw->data()), name), path_);
  const StorageType t = sv.storage_type;
  if (t == StorageType::kF64 || t == StorageType::kI16 || t == StorageType::kI8) {
    raw = convert_storage(raw, t, sv.numel);
  }
  storages_.emplace(sv.s, raw);
  return raw;
}

Result<Tensor> TorchZip::tensor(const pickle::Value& v) {
  if (v.kind != pickle::Kind::kTensor || v.storage == nullptr) {
    return invalid_argument(std::string("not a tensor but a ") + pickle::kind_name(v.kind));
  }
  const pickle::Value& sv = *v.storage;
  // The view must stay inside the storage: offset + sum((size_i - 1) * stride_i) < numel.
  bool ok = v.offset >= 0;
  int64_t numel = 1, last = v.offset;
  for (size_t d = 0; ok && d < v.size.size(); ++d) {
    const int64_t n = v.size[d], s = v.stride[d];
    if (n < 0 || s < 0) {
      ok = false;
    } else if (n == 0) {
      numel = 0;
    } else {
      int64_t reach = 0;
      ok = !__builtin_mul_overflow(n - 1, s, &reach) && !__builtin_add_overflow(last, reach, &last) &&
           !__builtin_mul_overflow(numel, n, &numel);
    }
  }
  if (!ok || (numel > 0 && last >= sv.numel)) {
    return data_loss(path_ + ": tensor of size " + shape_str(v.size) + ", stride " +
                     shape_str(v.stride) + ", offset " + std::to_string(v.offset) +
                     " does not fit its storage '" + sv.s + "' of " + std::to_string(sv.numel) +
                     " elements");
  }
  UM_ASSIGN_OR_RETURN(std::shared_ptr<Storage> st, storage(sv));
  Tensor view(st, v.size, v.stride, v.offset, tensor_dtype(sv.storage_type));
  return view.contiguous();
}

}  // namespace um::io
