// File: src/io/file_bytes.cpp
// Purpose: whole-file reads/writes with Status, and ByteCursor's error messages.
#include "io/file_bytes.h"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <system_error>

namespace um::io {

Result<std::vector<uint8_t>> read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found("no such file: " + path);
  if (std::filesystem::is_directory(path, ec)) return invalid_argument(path + " is a directory");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return not_found("cannot open " + path + ": " + std::strerror(errno));
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return data_loss("cannot stat " + path + ": " + ec.message());
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && std::fread(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
    return data_loss("short read of " + path);
  }
  return bytes;
}

Status write_file_bytes(const std::string& path, const void* data, size_t size) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return data_loss("cannot create " + path + ": " + std::strerror(errno));
  if (size > 0 && std::fwrite(data, 1, size, f.get()) != size) {
    return data_loss("short write to " + path + ": " + std::strerror(errno));
  }
  if (std::fflush(f.get()) != 0) return data_loss("cannot flush " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Status ByteCursor::read_line(std::string* out, const char* field) {
  const void* nl = std::memchr(data_ + pos_, '\n', remaining());
  if (nl == nullptr) {
    return data_loss("truncated " + what_ + ": " + field + " has no end of line (offset " +
                     std::to_string(pos_) + ")");
  }
  const size_t n = static_cast<const uint8_t*>(nl) - (data_ + pos_);
  out->assign(reinterpret_cast<const char*>(data_ + pos_), n);
  pos_ += n + 1;
  return Status::Ok();
}

Status ByteCursor::short_read(size_t n, const char* field) const {
  return data_loss("truncated " + what_ + ": " + field + " needs " + std::to_string(n) +
                   " bytes at offset " + std::to_string(pos_) + ", only " +
                   std::to_string(remaining()) + " left");
}

}  // namespace um::io
