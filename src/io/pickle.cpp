// File: src/io/pickle.cpp
// Purpose: the safe pickle-subset parser declared in pickle.h: a stack machine over a bounded
// byte cursor. Hand-written because no Debian C++ library reads pickles without a Python
// interpreter, and safety needs exactly this: an allow-list, no execution, every length checked.
#include "io/pickle.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "io/file_bytes.h"

namespace um::io::pickle {
namespace {

// Opcode bytes (CPython Lib/pickle.py names).
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I',
  BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P',
  BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
  UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
  EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i', LONG_BINGET = 'j',
  LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
  SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
  TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
  BINBYTES = 'B', SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95, BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
};

// Opcodes that exist in the pickle format but are outside the safe subset, by name.
const char* refused_opcode_name(uint8_t op) {
  switch (op) {
    case FLOAT: return "FLOAT";
    case INT: return "INT";
    case LONG: return "LONG";
    case STRING: return "STRING";
    case UNICODE: return "UNICODE";
    case GET: return "GET";
    case PUT: return "PUT";
    case PERSID: return "PERSID";
    case INST: return "INST";
    case OBJ: return "OBJ";
    case EXT1: return "EXT1";
    case EXT2: return "EXT2";
    case EXT4: return "EXT4";
    case NEWOBJ_EX: return "NEWOBJ_EX";
    case BYTEARRAY8: return "BYTEARRAY8";
    case NEXT_BUFFER: return "NEXT_BUFFER";
    case READONLY_BUFFER: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

struct AllowedGlobal {
  const char* module;
  const char* name;
  GlobalId id;
  StorageType storage_type;
};

// The allow-list. Everything here is data: the parser interprets these names itself.
constexpr AllowedGlobal kAllowed[] = {
    {"collections", "OrderedDict", GlobalId::kOrderedDict, StorageType::kF32},
    {"torch._utils", "_rebuild_tensor_v2", GlobalId::kRebuildTensorV2, StorageType::kF32},
    {"torch._utils", "_rebuild_parameter", GlobalId::kRebuildParameter, StorageType::kF32},
    {"torch._utils", "_rebuild_parameter_with_state", GlobalId::kRebuildParameterWithState,
     StorageType::kF32},
    {"torch", "FloatStorage", GlobalId::kStorageClass, StorageType::kF32},
    {"torch", "HalfStorage", GlobalId::kStorageClass, StorageType::kF16},
    {"torch", "BFloat16Storage", GlobalId::kStorageClass, StorageType::kBF16},
    {"torch", "DoubleStorage", GlobalId::kStorageClass, StorageType::kF64},
    {"torch", "LongStorage", GlobalId::kStorageClass, StorageType::kI64},
    {"torch", "IntStorage", GlobalId::kStorageClass, StorageType::kI32},
    {"torch", "ShortStorage", GlobalId::kStorageClass, StorageType::kI16},
    {"torch", "CharStorage", GlobalId::kStorageClass, StorageType::kI8},
    {"torch", "ByteStorage", GlobalId::kStorageClass, StorageType::kU8},
    {"torch", "BoolStorage", GlobalId::kStorageClass, StorageType::kBool},
    {"torch", "UntypedStorage", GlobalId::kStorageClass, StorageType::kU8},
    {"torch.storage", "UntypedStorage", GlobalId::kStorageClass, StorageType::kU8},
    {"torch", "Size", GlobalId::kTorchSize, StorageType::kF32},
    // Protocol 2 pickles `bytes` as _codecs.encode(str, 'latin1').
    {"_codecs", "encode", GlobalId::kCodecsEncode, StorageType::kF32},
    // Inert values that training scripts put beside the weights (metrics, configs): parsed,
    // never constructed, ignored.
    {"torch", "device", GlobalId::kInert, StorageType::kF32},
    {"torch", "float32", GlobalId::kInert, StorageType::kF32},
    {"torch", "float16", GlobalId::kInert, StorageType::kF32},
    {"torch", "bfloat16", GlobalId::kInert, StorageType::kF32},
    {"torch", "float64", GlobalId::kInert, StorageType::kF32},
    {"torch", "int64", GlobalId::kInert, StorageType::kF32},
    {"torch", "int32", GlobalId::kInert, StorageType::kF32},
    {"torch", "uint8", GlobalId::kInert, StorageType::kF32},
    {"torch", "bool", GlobalId::kInert, StorageType::kF32},
    {"numpy.core.multiarray", "scalar", GlobalId::kInert, StorageType::kF32},
    {"numpy._core.multiarray", "scalar", GlobalId::kInert, StorageType::kF32},
    {"numpy", "dtype", GlobalId::kInert, StorageType::kF32},
    {"datetime", "datetime", GlobalId::kInert, StorageType::kF32},
    {"datetime", "date", GlobalId::kInert, StorageType::kF32},
};

class Parser {
 public:
  Parser(const uint8_t* data, size_t size, std::string what)
      : in_(data, size, what), what_(std::move(what)) {}

  Result<Document> run();

 private:
  Value* make(Kind k) {
    doc_.arena.emplace_back();
    doc_.arena.back().kind = k;
    return &doc_.arena.back();
  }
  Status err_data(const std::string& msg) const {
    return data_loss(what_ + ": " + msg + " (opcode " + opcode_str() + " at offset " +
                     std::to_string(op_pos_) + ")");
  }
  Status err_refused(const std::string& msg) const {
    return invalid_argument(what_ + ": " + msg + " at offset " + std::to_string(op_pos_) +
                            "; refusing to load (nothing was executed)");
  }
  std::string opcode_str() const {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "0x%02x", op_);
    return buf;
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Status pop(Value** out) {
    if (stack_.size() <= floor()) return err_data("stack underflow");
    *out = stack_.back();
    stack_.pop_back();
    return Status::Ok();
  }
  Status top(Value** out) {
    if (stack_.size() <= floor()) return err_data("stack underflow");
    *out = stack_.back();
    return Status::Ok();
  }
  // Pops everything above the latest MARK, and the mark.
  Status pop_mark(std::vector<Value*>* out) {
    if (marks_.empty()) return err_data("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    out->assign(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return Status::Ok();
  }
  Status memo_put(uint64_t index) {
    Value* v = nullptr;
    UM_RETURN_IF_ERROR(top(&v));
    memo_[index] = v;
    return Status::Ok();
  }
  Status memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) return err_data("memo entry " + std::to_string(index) + " is undefined");
    stack_.push_back(it->second);
    return Status::Ok();
  }
  Status push_int(int64_t v) {
    Value* x = make(Kind::kInt);
    x->i = v;
    stack_.push_back(x);
    return Status::Ok();
  }
  Status push_text(Kind kind, size_t n, const char* field) {
    Value* x = make(kind);
    UM_RETURN_IF_ERROR(in_.read_string(n, &x->s, field));
    stack_.push_back(x);
    return Status::Ok();
  }
  Status push_long(size_t n);
  Status push_global(const std::string& module, const std::string& name);
  Status set_items(Value* dict, const std::vector<Value*>& kv);
  Status reduce(Value* callable, Value* args);
  Status persistent_load(Value* pid);
  Status step(bool* stop);

  ByteCursor in_;
  std::string what_;
  Document doc_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  uint8_t op_ = 0;
  size_t op_pos_ = 0;
};

Status Parser::push_long(size_t n) {
  const uint8_t* p = nullptr;
  UM_RETURN_IF_ERROR(in_.read_bytes(n, &p, "LONG bytes"));
  if (n > 8) {  // beyond int64: keep as an inert value (never a tensor argument we need)
    Value* x = make(Kind::kOpaque);
    x->s = "big integer";
    stack_.push_back(x);
    return Status::Ok();
  }
  uint64_t u = 0;
  for (size_t k = 0; k < n; ++k) u |= static_cast<uint64_t>(p[k]) << (8 * k);
  if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t{0} << (8 * n);  // sign-extend
  return push_int(static_cast<int64_t>(u));
}

Status Parser::push_global(const std::string& module, const std::string& name) {
  for (const auto& g : kAllowed) {
    if (module == g.module && name == g.name) {
      Value* x = make(Kind::kGlobal);
      x->s = module + "." + name;
      x->global = g.id;
      x->storage_type = g.storage_type;
      stack_.push_back(x);
      return Status::Ok();
    }
  }
  return err_refused("pickle asks for global '" + module + "." + name +
                     "', which is not in the allowed set (state dicts, tensors, storages)");
}

Status Parser::set_items(Value* dict, const std::vector<Value*>& kv) {
  if (dict->kind != Kind::kDict) {
    return err_data(std::string("SETITEM(S) on a ") + kind_name(dict->kind) + ", not a dict");
  }
  if (kv.size() % 2 != 0) return err_data("SETITEMS with an odd number of items");
  // A repeated key is appended, not replaced: Value::get() searches from the end, so the last
  // assignment wins as in Python, without a quadratic scan here.
  for (size_t k = 0; k < kv.size(); k += 2) dict->entries.emplace_back(kv[k], kv[k + 1]);
  return Status::Ok();
}

Status Parser::persistent_load(Value* pid) {
  // torch.save: ('storage', storage_type, key, location, numel)
  if (pid->kind != Kind::kTuple || pid->items.size() != 5 ||
      pid->items[0]->kind != Kind::kString || pid->items[0]->s != "storage") {
    return err_refused("unsupported persistent id (expected a torch storage tuple)");
  }
  const Value* type = pid->items[1];
  const Value* key = pid->items[2];
  const Value* numel = pid->items[4];
  if (type->kind != Kind::kGlobal || type->global != GlobalId::kStorageClass) {
    return err_data("storage reference without a storage type");
  }
  if (key->kind != Kind::kString || numel->kind != Kind::kInt || numel->i < 0) {
    return err_data("storage reference with a bad key or element count");
  }
  Value* st = make(Kind::kStorage);
  st->s = key->s;
  st->storage_type = type->storage_type;
  st->numel = numel->i;
  stack_.push_back(st);
  return Status::Ok();
}

// Reads a tuple of ints (a size or a stride).
bool int_tuple(const Value* v, Shape* out) {
  if (v->kind != Kind::kTuple && v->kind != Kind::kList) return false;
  out->clear();
  for (const Value* x : v->items) {
    if (x->kind != Kind::kInt) return false;
    out->push_back(x->i);
  }
  return true;
}

Status Parser::reduce(Value* callable, Value* args) {
  if (callable->kind != Kind::kGlobal) {
    return err_refused(std::string("REDUCE calls a ") + kind_name(callable->kind) +
                       ", not an allowed global");
  }
  if (args->kind != Kind::kTuple) return err_data("REDUCE arguments are not a tuple");
  const auto& a = args->items;
  switch (callable->global) {
    case GlobalId::kOrderedDict: {
      Value* d = make(Kind::kDict);
      if (!a.empty()) {  // OrderedDict([(k, v), ...])
        if (a.size() != 1 || (a[0]->kind != Kind::kList && a[0]->kind != Kind::kTuple)) {
          return err_data("OrderedDict with unexpected arguments");
        }
        for (const Value* kv : a[0]->items) {
          if (kv->kind != Kind::kTuple || kv->items.size() != 2) {
            return err_data("OrderedDict item is not a pair");
          }
          d->entries.emplace_back(kv->items[0], kv->items[1]);
        }
      }
      stack_.push_back(d);
      return Status::Ok();
    }
    case GlobalId::kRebuildTensorV2: {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() < 4) return err_data("_rebuild_tensor_v2 with too few arguments");
      Value* t = make(Kind::kTensor);
      if (a[0]->kind != Kind::kStorage) return err_data("_rebuild_tensor_v2 without a storage");
      if (a[1]->kind != Kind::kInt || !int_tuple(a[2], &t->size) || !int_tuple(a[3], &t->stride) ||
          t->size.size() != t->stride.size()) {
        return err_data("_rebuild_tensor_v2 with a bad offset, size or stride");
      }
      t->storage = a[0];
      t->offset = a[1]->i;
      stack_.push_back(t);
      return Status::Ok();
    }
    case GlobalId::kRebuildParameter:
    case GlobalId::kRebuildParameterWithState:
      // (data, requires_grad, backward_hooks[, state]): the parameter is its data tensor.
      if (a.empty() || a[0]->kind != Kind::kTensor) {
        return err_data("_rebuild_parameter without a tensor");
      }
      stack_.push_back(a[0]);
      return Status::Ok();
    case GlobalId::kTorchSize: {
      Value* t = make(Kind::kTuple);
      if (a.size() == 1 && (a[0]->kind == Kind::kTuple || a[0]->kind == Kind::kList)) {
        t->items = a[0]->items;
      }
      stack_.push_back(t);
      return Status::Ok();
    }
    case GlobalId::kCodecsEncode: {
      Value* b = make(Kind::kBytes);
      if (!a.empty() && a[0]->kind == Kind::kString) b->s = a[0]->s;
      stack_.push_back(b);
      return Status::Ok();
    }
    case GlobalId::kInert: {
      Value* o = make(Kind::kOpaque);
      o->s = callable->s;
      stack_.push_back(o);
      return Status::Ok();
    }
    case GlobalId::kStorageClass:
      break;
  }
  return err_refused("global '" + callable->s + "' cannot be called");
}

Status Parser::step(bool* stop) {
  op_pos_ = in_.pos();
  if (in_.at_end()) return err_data("input ended before STOP (truncated?)");
  UM_RETURN_IF_ERROR(in_.read_u8(&op_, "opcode"));
  Value* a = nullptr;
  Value* b = nullptr;
  std::vector<Value*> items;
  switch (op_) {
    case PROTO: {
      uint8_t v = 0;
      UM_RETURN_IF_ERROR(in_.read_u8(&v, "PROTO version"));
      if (v < 2 || v > 5) return err_refused("pickle protocol " + std::to_string(v) + " is not supported");
      return Status::Ok();
    }
    case FRAME: {
      uint64_t n = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&n, "FRAME length"));
      if (n > in_.remaining()) return err_data("FRAME longer than the input");
      return Status::Ok();
    }
    case STOP:
      UM_RETURN_IF_ERROR(pop(&a));
      doc_.root = a;
      *stop = true;
      return Status::Ok();
    case MARK:
      marks_.push_back(stack_.size());
      return Status::Ok();
    case POP:
      return pop(&a);
    case POP_MARK:
      return pop_mark(&items);
    case DUP:
      UM_RETURN_IF_ERROR(top(&a));
      stack_.push_back(a);
      return Status::Ok();
    case NONE:
      stack_.push_back(make(Kind::kNone));
      return Status::Ok();
    case NEWTRUE:
    case NEWFALSE:
      a = make(Kind::kBool);
      a->b = op_ == NEWTRUE;
      stack_.push_back(a);
      return Status::Ok();
    case BININT: {
      int32_t v = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&v, "BININT"));
      return push_int(v);
    }
    case BININT1: {
      uint8_t v = 0;
      UM_RETURN_IF_ERROR(in_.read_u8(&v, "BININT1"));
      return push_int(v);
    }
    case BININT2: {
      uint16_t v = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&v, "BININT2"));
      return push_int(v);
    }
    case LONG1: {
      uint8_t n = 0;
      UM_RETURN_IF_ERROR(in_.read_u8(&n, "LONG1 length"));
      return push_long(n);
    }
    case LONG4: {
      int32_t n = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&n, "LONG4 length"));
      if (n < 0) return err_data("negative LONG4 length");
      return push_long(static_cast<size_t>(n));
    }
    case BINFLOAT: {
      const uint8_t* p = nullptr;
      UM_RETURN_IF_ERROR(in_.read_bytes(8, &p, "BINFLOAT"));
      uint64_t u = 0;
      for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];  // big-endian, unlike everything else
      a = make(Kind::kFloat);
      std::memcpy(&a->f, &u, 8);
      stack_.push_back(a);
      return Status::Ok();
    }
    case SHORT_BINUNICODE:
    case SHORT_BINBYTES:
    case SHORT_BINSTRING: {
      uint8_t n = 0;
      UM_RETURN_IF_ERROR(in_.read_u8(&n, "string length"));
      return push_text(op_ == SHORT_BINBYTES ? Kind::kBytes : Kind::kString, n, "string");
    }
    case BINUNICODE:
    case BINBYTES: {
      uint32_t n = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&n, "string length"));
      return push_text(op_ == BINBYTES ? Kind::kBytes : Kind::kString, n, "string");
    }
    case BINSTRING: {
      int32_t n = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&n, "string length"));
      if (n < 0) return err_data("negative BINSTRING length");
      return push_text(Kind::kString, static_cast<size_t>(n), "string");
    }
    case BINUNICODE8:
    case BINBYTES8: {
      uint64_t n = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&n, "string length"));
      if (n > in_.remaining()) return err_data("string length beyond the end of the input");
      return push_text(op_ == BINBYTES8 ? Kind::kBytes : Kind::kString, static_cast<size_t>(n),
                       "string");
    }
    case EMPTY_DICT:
      stack_.push_back(make(Kind::kDict));
      return Status::Ok();
    case EMPTY_LIST:
    case EMPTY_SET:
      stack_.push_back(make(Kind::kList));
      return Status::Ok();
    case EMPTY_TUPLE:
      stack_.push_back(make(Kind::kTuple));
      return Status::Ok();
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      const size_t n = static_cast<size_t>(op_ - TUPLE1) + 1;
      if (stack_.size() < floor() + n) return err_data("stack underflow");
      a = make(Kind::kTuple);
      a->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
      stack_.resize(stack_.size() - n);
      stack_.push_back(a);
      return Status::Ok();
    }
    case TUPLE:
    case LIST:
    case FROZENSET:
      UM_RETURN_IF_ERROR(pop_mark(&items));
      a = make(op_ == TUPLE ? Kind::kTuple : Kind::kList);
      a->items = std::move(items);
      stack_.push_back(a);
      return Status::Ok();
    case DICT:
      UM_RETURN_IF_ERROR(pop_mark(&items));
      a = make(Kind::kDict);
      UM_RETURN_IF_ERROR(set_items(a, items));
      stack_.push_back(a);
      return Status::Ok();
    case APPEND:
      UM_RETURN_IF_ERROR(pop(&b));
      UM_RETURN_IF_ERROR(top(&a));
      if (a->kind != Kind::kList) return err_data(std::string("APPEND to a ") + kind_name(a->kind));
      a->items.push_back(b);
      return Status::Ok();
    case APPENDS:
    case ADDITEMS:
      UM_RETURN_IF_ERROR(pop_mark(&items));
      UM_RETURN_IF_ERROR(top(&a));
      if (a->kind != Kind::kList) return err_data(std::string("APPENDS to a ") + kind_name(a->kind));
      a->items.insert(a->items.end(), items.begin(), items.end());
      return Status::Ok();
    case SETITEM:
      if (stack_.size() < floor() + 3) return err_data("stack underflow");
      items.assign(stack_.end() - 2, stack_.end());
      stack_.resize(stack_.size() - 2);
      return set_items(stack_.back(), items);
    case SETITEMS:
      UM_RETURN_IF_ERROR(pop_mark(&items));
      UM_RETURN_IF_ERROR(top(&a));
      return set_items(a, items);
    case BINPUT: {
      uint8_t i = 0;
      UM_RETURN_IF_ERROR(in_.read_u8(&i, "BINPUT index"));
      return memo_put(i);
    }
    case LONG_BINPUT: {
      uint32_t i = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&i, "LONG_BINPUT index"));
      return memo_put(i);
    }
    case MEMOIZE:
      return memo_put(memo_.size());
    case BINGET: {
      uint8_t i = 0;
      UM_RETURN_IF_ERROR(in_.read_u8(&i, "BINGET index"));
      return memo_get(i);
    }
    case LONG_BINGET: {
      uint32_t i = 0;
      UM_RETURN_IF_ERROR(in_.read_le(&i, "LONG_BINGET index"));
      return memo_get(i);
    }
    case GLOBAL: {
      std::string module, name;
      UM_RETURN_IF_ERROR(in_.read_line(&module, "GLOBAL module"));
      UM_RETURN_IF_ERROR(in_.read_line(&name, "GLOBAL name"));
      return push_global(module, name);
    }
    case STACK_GLOBAL:
      UM_RETURN_IF_ERROR(pop(&b));
      UM_RETURN_IF_ERROR(pop(&a));
      if (a->kind != Kind::kString || b->kind != Kind::kString) {
        return err_data("STACK_GLOBAL without module and name strings");
      }
      return push_global(a->s, b->s);
    case REDUCE:
    case NEWOBJ:
      UM_RETURN_IF_ERROR(pop(&b));
      UM_RETURN_IF_ERROR(pop(&a));
      if (op_ == NEWOBJ && a->kind == Kind::kGlobal && a->global != GlobalId::kOrderedDict &&
          a->global != GlobalId::kInert) {
        return err_refused("NEWOBJ of '" + a->s + "'");
      }
      return reduce(a, b);
    case BUILD:
      UM_RETURN_IF_ERROR(pop(&b));
      UM_RETURN_IF_ERROR(top(&a));
      // OrderedDict state dicts carry a `_metadata` attribute; inert objects their state;
      // tensors may carry Python attributes. All are ignored: nothing is set or called.
      if (a->kind != Kind::kDict && a->kind != Kind::kOpaque && a->kind != Kind::kTensor) {
        return err_refused(std::string("BUILD on a ") + kind_name(a->kind));
      }
      return Status::Ok();
    case BINPERSID:
      UM_RETURN_IF_ERROR(pop(&a));
      return persistent_load(a);
    default:
      break;
  }
  if (const char* name = refused_opcode_name(op_)) {
    return err_refused(std::string("pickle opcode ") + name + " (" + opcode_str() +
                       ") is outside the safe subset");
  }
  return err_refused("unknown pickle opcode " + opcode_str());
}

Result<Document> Parser::run() {
  bool stop = false;
  while (!stop) UM_RETURN_IF_ERROR(step(&stop));
  return std::move(doc_);
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kStorage: return "storage";
    case Kind::kTensor: return "tensor";
    case Kind::kOpaque: return "object";
  }
  return "?";
}

size_t storage_type_size(StorageType t) {
  switch (t) {
    case StorageType::kF64:
    case StorageType::kI64: return 8;
    case StorageType::kF32:
    case StorageType::kI32: return 4;
    case StorageType::kF16:
    case StorageType::kBF16:
    case StorageType::kI16: return 2;
    case StorageType::kI8:
    case StorageType::kU8:
    case StorageType::kBool: return 1;
  }
  return 1;
}

const char* storage_type_name(StorageType t) {
  switch (t) {
    case StorageType::kF32: return "float32";
    case StorageType::kF16: return "float16";
    case StorageType::kBF16: return "bfloat16";
    case StorageType::kF64: return "float64";
    case StorageType::kI64: return "int64";
    case StorageType::kI32: return "int32";
    case StorageType::kI16: return "int16";
    case StorageType::kI8: return "int8";
    case StorageType::kU8: return "uint8";
    case StorageType::kBool: return "bool";
  }
  return "?";
}

const Value* Value::get(std::string_view key) const {
  if (kind != Kind::kDict) return nullptr;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->first->kind == Kind::kString && it->first->s == key) return it->second;
  }
  return nullptr;
}

Result<Document> parse(const uint8_t* data, size_t size, const std::string& what) {
  Parser p(data, size, what);
  return p.run();
}

}  // namespace um::io::pickle
