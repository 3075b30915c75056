// File: src/io/file_bytes.h
// Purpose: the two primitives every reader in src/io builds on, so that none of them ever reads
// past the end of its input: reading a file into memory with a Status, and a bounds-checked
// cursor over a byte span (little-endian integer reads).
// Usage:
//   UM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file_bytes(path));
//   ByteCursor c(bytes.data(), bytes.size(), "data.pkl");
//   uint32_t n; UM_RETURN_IF_ERROR(c.read_u32(&n, "BINUNICODE length"));
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace um::io {

static_assert(std::endian::native == std::endian::little,
              "checkpoint and image readers assume a little-endian host (x86-64, aarch64)");

// kNotFound when the file does not exist, kDataLoss when it cannot be read completely.
Result<std::vector<uint8_t>> read_file_bytes(const std::string& path);
// Writes all bytes or returns kDataLoss naming the path.
Status write_file_bytes(const std::string& path, const void* data, size_t size);

// A read cursor: every read checks the remaining length first and reports, on shortage, what it
// was reading ("truncated data.pkl: BINUNICODE length needs 4 bytes at offset 17, 2 left").
class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, size_t size, std::string what)
      : data_(data), size_(size), what_(std::move(what)) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  bool at_end() const { return pos_ >= size_; }

  Status read_bytes(size_t n, const uint8_t** out, const char* field) {
    if (n > remaining()) return short_read(n, field);
    *out = data_ + pos_;
    pos_ += n;
    return Status::Ok();
  }
  Status read_string(size_t n, std::string* out, const char* field) {
    const uint8_t* p = nullptr;
    UM_RETURN_IF_ERROR(read_bytes(n, &p, field));
    out->assign(reinterpret_cast<const char*>(p), n);
    return Status::Ok();
  }
  // Reads up to (not including) '\n' and consumes the newline (pickle text arguments).
  Status read_line(std::string* out, const char* field);

  template <typename T>
  Status read_le(T* out, const char* field) {
    const uint8_t* p = nullptr;
    UM_RETURN_IF_ERROR(read_bytes(sizeof(T), &p, field));
    std::memcpy(out, p, sizeof(T));  // host is little-endian (static_assert above)
    return Status::Ok();
  }
  Status read_u8(uint8_t* out, const char* field) { return read_le(out, field); }

 private:
  Status short_read(size_t n, const char* field) const;

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string what_;
};

}  // namespace um::io
