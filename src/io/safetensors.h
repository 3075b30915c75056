// File: src/io/safetensors.h
// Purpose: read and write the safetensors format (u64 little-endian header length, JSON header
// {name: {dtype, shape, data_offsets}}, raw little-endian data). Used for the reference fixtures
// and for --dump outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "io/checkpoint.h"

namespace um::io {

// Every size in the header is validated against the file before data is read.
Result<TensorMap> read_safetensors(const std::string& path);
// The same, from bytes already in memory (what read_safetensors and the fuzz target call).
Result<TensorMap> parse_safetensors(const uint8_t* data, size_t size);
// Writes CPU tensors (made contiguous) in key order.
Status write_safetensors(const std::string& path, const TensorMap& tensors);

}  // namespace um::io
