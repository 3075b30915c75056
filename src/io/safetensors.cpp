// File: src/io/safetensors.cpp
// Purpose: safetensors read/write. Format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data section; offsets are relative to the start of the data section.
// Reading trusts nothing in the header: every dtype, shape, offset and byte count is checked
// against the data actually present before a single tensor byte is copied.
#include "io/safetensors.h"

#include <cstring>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>

#include "io/file_bytes.h"

namespace um::io {
namespace {

using nlohmann::json;

// Header sizes above this are refused (the reference implementation uses the same 100 MB cap):
// a corrupt length must not make us parse or allocate gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DTypeCode {
  const char* code;
  DType dtype;
};
constexpr DTypeCode kDTypeCodes[] = {
    {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16}, {"I64", DType::kI64},
    {"I32", DType::kI32}, {"U8", DType::kU8},   {"BOOL", DType::kBool},
};

const char* dtype_code(DType t) {
  for (const auto& c : kDTypeCodes) {
    if (c.dtype == t) return c.code;
  }
  return "?";
}

// Parses one header entry into (dtype, shape, begin, end), checking it against data_size.
Status parse_entry(const std::string& name, const json& entry, uint64_t data_size, DType* dtype,
                   Shape* shape, uint64_t* begin, uint64_t* end) {
  const std::string where = "safetensors entry '" + name + "'";
  if (!entry.is_object()) return data_loss(where + " is not a JSON object");
  auto dt = entry.find("dtype");
  auto sh = entry.find("shape");
  auto off = entry.find("data_offsets");
  if (dt == entry.end() || !dt->is_string()) return data_loss(where + " has no string 'dtype'");
  if (sh == entry.end() || !sh->is_array()) return data_loss(where + " has no 'shape' array");
  if (off == entry.end() || !off->is_array() || off->size() != 2) {
    return data_loss(where + " has no 'data_offsets' pair");
  }
  const std::string code = dt->get<std::string>();
  bool known = false;
  for (const auto& c : kDTypeCodes) {
    if (code == c.code) {
      *dtype = c.dtype;
      known = true;
    }
  }
  if (!known) {
    return invalid_argument(where + " has dtype " + code +
                            ", which is not supported (F32, F16, BF16, I64, I32, U8, BOOL)");
  }
  shape->clear();
  uint64_t numel = 1;
  for (const json& d : *sh) {
    if (!d.is_number_unsigned()) return data_loss(where + " has a shape entry that is not a size");
    const uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v)) {
      return data_loss(where + " has an impossible shape");
    }
    numel *= v;
    shape->push_back(static_cast<int64_t>(v));
  }
  if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned()) {
    return data_loss(where + " has non-integer data_offsets");
  }
  *begin = (*off)[0].get<uint64_t>();
  *end = (*off)[1].get<uint64_t>();
  const uint64_t elem = dtype_size(*dtype);
  if (numel > std::numeric_limits<uint64_t>::max() / elem) {
    return data_loss(where + " has an impossible shape");
  }
  const uint64_t want = numel * elem;
  if (*end < *begin || *end - *begin != want) {
    return data_loss(where + ": data_offsets [" + std::to_string(*begin) + ", " +
                     std::to_string(*end) + "] do not hold " + std::to_string(want) + " bytes for " +
                     code + shape_str(*shape));
  }
  if (*end > data_size) {
    return data_loss(where + ": data ends at byte " + std::to_string(*end) +
                     " but the data section holds only " + std::to_string(data_size) +
                     " bytes (truncated file?)");
  }
  return Status::Ok();
}

}  // namespace

Result<TensorMap> parse_safetensors(const uint8_t* data, size_t size) {
  ByteCursor cursor(data, size, "safetensors file");
  uint64_t header_len = 0;
  UM_RETURN_IF_ERROR(cursor.read_le(&header_len, "header length"));
  if (header_len > kMaxHeaderBytes) {
    return data_loss("safetensors header length " + std::to_string(header_len) +
                     " is implausible (corrupt file or not safetensors)");
  }
  const uint8_t* header = nullptr;
  UM_RETURN_IF_ERROR(cursor.read_bytes(static_cast<size_t>(header_len), &header, "JSON header"));
  const uint8_t* data_section = header + header_len;
  const uint64_t data_size = cursor.remaining();

  json doc = json::parse(header, header + header_len, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return data_loss("safetensors header is not valid JSON");
  if (!doc.is_object()) return data_loss("safetensors header is not a JSON object");

  TensorMap tensors;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() == "__metadata__") continue;  // free-form string map; nothing we need
    DType dtype = DType::kF32;
    Shape shape;
    uint64_t begin = 0, end = 0;
    UM_RETURN_IF_ERROR(parse_entry(it.key(), it.value(), data_size, &dtype, &shape, &begin, &end));
    Tensor t = Tensor::empty(shape, dtype);
    if (end > begin) std::memcpy(t.raw_data(), data_section + begin, end - begin);
    tensors.emplace(it.key(), std::move(t));
  }
  return tensors;
}

Result<TensorMap> read_safetensors(const std::string& path) {
  try {  // allocation failures surface as um::Error / bad_alloc; this API returns Status only
    UM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file_bytes(path));
    Result<TensorMap> r = parse_safetensors(bytes.data(), bytes.size());
    if (!r.ok()) return r.status().with_context(path);
    return r;
  } catch (const Error& e) {
    return e.status().with_context(path);
  } catch (const std::bad_alloc&) {
    return resource_exhausted(path + ": out of memory");
  }
}

Status write_safetensors(const std::string& path, const TensorMap& tensors) {
  json header = json::object();
  std::vector<Tensor> ordered;  // contiguous CPU copies, in key (= offset) order
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") return invalid_argument("'__metadata__' cannot name a tensor");
    if (!tensor.defined()) return invalid_argument("tensor '" + name + "' is undefined");
    if (!tensor.device().is_cpu()) {
      return invalid_argument("tensor '" + name + "' is on " + tensor.device().str() +
                              "; copy it to the CPU before writing");
    }
    Tensor c = tensor.contiguous();
    const uint64_t n = c.nbytes();
    header[name] = {{"dtype", dtype_code(c.dtype())},
                    {"shape", c.shape()},
                    {"data_offsets", {offset, offset + n}}};
    offset += n;
    ordered.push_back(std::move(c));
  }
  // Keys are bytes to us; invalid UTF-8 is replaced rather than thrown on by the JSON writer.
  std::string text = header.dump(-1, ' ', false, json::error_handler_t::replace);
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  std::vector<uint8_t> out(8 + text.size() + offset);
  const uint64_t header_len = text.size();
  std::memcpy(out.data(), &header_len, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* p = out.data() + 8 + text.size();
  for (const Tensor& t : ordered) {
    if (t.nbytes() > 0) std::memcpy(p, t.raw_data(), t.nbytes());
    p += t.nbytes();
  }
  return write_file_bytes(path, out.data(), out.size());
}

}  // namespace um::io
