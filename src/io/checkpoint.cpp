// File: src/io/checkpoint.cpp
// Purpose: load_checkpoint: picks the reader by the file's magic bytes.
// Interim: safetensors only; the torch zip reader lands next.
#include "io/checkpoint.h"

#include <cstring>

#include "io/file_bytes.h"
#include "io/safetensors.h"

namespace um::io {

Result<Checkpoint> load_checkpoint(const std::string& path) {
  UM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file_bytes(path));
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0) {
    return unimplemented(path + ": torch zip checkpoints are not readable yet");
  }
  Result<TensorMap> st = parse_safetensors(bytes.data(), bytes.size());
  if (!st.ok()) return st.status().with_context(path);
  return Checkpoint{std::move(st).value(), "safetensors"};
}

}  // namespace um::io
