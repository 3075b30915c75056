// File: tests/io/pickle_builder.h
// Purpose: build torch-style checkpoints byte by byte in tests: a pickle assembled opcode by
// opcode (so each test states exactly what the file holds) and a zip writer (libzip), for
// both well-formed variants (protocol 4, memo, wrappers) and deliberately broken files.
#pragma once

#include <gtest/gtest.h>
#include <zip.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace um::test {

// A pickle assembled opcode by opcode (so each test states exactly what the file holds).
struct Pk {
  std::string b = std::string("\x80\x02", 2);
  Pk& op(char c) {
    b.push_back(c);
    return *this;
  }
  Pk& raw(const std::string& s) {
    b += s;
    return *this;
  }
  Pk& str(const std::string& s) {
    b.push_back('X');
    const uint32_t n = static_cast<uint32_t>(s.size());
    b.append(reinterpret_cast<const char*>(&n), 4);
    b += s;
    return *this;
  }
  Pk& num(int32_t v) {
    b.push_back('J');
    b.append(reinterpret_cast<const char*>(&v), 4);
    return *this;
  }
  Pk& ints(std::initializer_list<int32_t> v) {
    op('(');
    for (int32_t x : v) num(x);
    return op('t');
  }
  // _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, ...)
  Pk& tensor(const std::string& key, int32_t numel, int32_t offset,
             std::initializer_list<int32_t> size, std::initializer_list<int32_t> stride) {
    raw("ctorch._utils\n_rebuild_tensor_v2\n").op('(').op('(');
    str("storage").raw("ctorch\nFloatStorage\n").str(key).str("cpu").num(numel).op('t').op('Q');
    num(offset).ints(size).ints(stride).op('\x89').op('}').op('t').op('R');
    return *this;
  }
  std::vector<uint8_t> bytes() const { return std::vector<uint8_t>(b.begin(), b.end()); }
};

// Writes a zip with the given entries (name -> bytes), stored uncompressed like torch does.
inline void write_zip(const std::string& path,
               const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, data] : entries) {
    zip_source_t* src = zip_source_buffer(z, data.data(), data.size(), 0);
    ASSERT_NE(src, nullptr);
    const zip_int64_t idx = zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE);
    ASSERT_GE(idx, 0);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

inline std::vector<uint8_t> floats(std::initializer_list<float> v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), std::data(v), out.size());
  return out;
}

// One-tensor state dict {'w': tensor} around the given pickle tensor expression.
inline void write_pickle_ckpt(const std::string& path, const Pk& pk,
                       std::vector<uint8_t> storage0 = floats({1, 2, 3, 4})) {
  write_zip(path, {{"archive/data.pkl", pk.bytes()},
                   {"archive/data/0", std::move(storage0)},
                   {"archive/version", {'3', '\n'}}});
}

}  // namespace um::test
