// File: src/io/pickle.h
// Purpose: a SAFE reader for the subset of Python's pickle format that torch.save writes
// (protocol 2, and the protocol 3-5 opcodes it may use). It builds a tree of plain values;
// nothing is ever imported, called or executed. Globals are looked up in a fixed allow-list
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, the
// torch.*Storage types, and a few inert ones listed in pickle.cpp); any other global, and any
// opcode outside the subset (INST, OBJ, EXT*, NEWOBJ_EX, protocol-0 text forms, out-of-band
// buffers), is refused with kInvalidArgument naming it. Truncated or inconsistent input (stack
// underflow, a missing memo entry, no STOP) is kDataLoss naming the opcode and offset.
//
// Tensors stay symbolic here: a kTensor value records its storage (key, element type, numel)
// and the view (offset, size, stride); torch_zip.cpp reads the bytes for the ones it needs.
// Usage:
//   UM_ASSIGN_OR_RETURN(pickle::Document doc, pickle::parse(bytes.data(), bytes.size()));
//   const pickle::Value* sd = doc.root->get("model");
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace um::io::pickle {

enum class Kind : uint8_t {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,   // str (UTF-8 bytes as written)
  kBytes,    // bytes
  kTuple,
  kList,     // list, set, frozenset
  kDict,     // dict, OrderedDict (insertion order kept)
  kGlobal,   // an allow-listed class or function, not yet called
  kStorage,  // a persistent-id storage reference ('storage', type, key, location, numel)
  kTensor,   // the result of _rebuild_tensor_v2 / _rebuild_parameter
  kOpaque,   // an inert object we parse and ignore (numpy scalar, torch.device, big int, ...)
};
const char* kind_name(Kind k);

// Element types that torch storages may have. kF64/kI8/kI16 have no Tensor dtype: they are
// converted on load (float64 -> float32, int8/int16 -> int32).
enum class StorageType : uint8_t { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };
size_t storage_type_size(StorageType t);
const char* storage_type_name(StorageType t);

// Which allow-listed global a kGlobal value is.
enum class GlobalId : uint8_t {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildParameter,
  kRebuildParameterWithState,
  kStorageClass,  // torch.FloatStorage, ... (storage_type says which)
  kTorchSize,
  kCodecsEncode,
  kInert,         // numpy scalar/dtype, torch.device, torch dtypes, datetime: become kOpaque
};

struct Value {
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  // kString/kBytes: the content. kGlobal/kOpaque: "module.name". kStorage: the storage key.
  std::string s;
  std::vector<Value*> items;                       // kTuple, kList
  std::vector<std::pair<Value*, Value*>> entries;  // kDict
  GlobalId global = GlobalId::kInert;              // kGlobal
  StorageType storage_type = StorageType::kF32;    // kGlobal(kStorageClass), kStorage
  int64_t numel = 0;                               // kStorage: elements in the storage
  const Value* storage = nullptr;                  // kTensor
  int64_t offset = 0;                              // kTensor, in elements
  Shape size, stride;                              // kTensor

  // Dict lookup by string key; nullptr when absent or when this is not a dict.
  const Value* get(std::string_view key) const;
};

// Owns every value; pointers between values stay valid as long as the Document lives (values
// live in a deque, so the graph, even a cyclic one, is freed flat, without recursion).
struct Document {
  std::deque<Value> arena;
  Value* root = nullptr;
  Document() = default;
  Document(Document&&) = default;
  Document& operator=(Document&&) = default;
  Document(const Document&) = delete;
};

// `what` names the input in error messages (e.g. "archive/data.pkl").
Result<Document> parse(const uint8_t* data, size_t size, const std::string& what = "pickle");

}  // namespace um::io::pickle
