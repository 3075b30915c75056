// libFuzzer target for the OpenIGTLink stream parser (src/igtl/stream_reader.h, codec.h).
// The first input byte chooses how the rest is split into feed() chunks, so framing is fuzzed
// across arbitrary TCP segmentations; every framed message is also re-encoded. Any crash,
// sanitizer report, or hang is a bug: bad bytes must only ever produce a counted rejection.
// Run: fuzz_igtl_stream CORPUS_DIR tests/igtl/corpus -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <vector>

#include "igtl/codec.h"
#include "igtl/stream_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] * 3;  // 1..766 bytes per feed
  data += 1;
  size -= 1;

  um::igtl::DecodeOptions options;
  options.max_body_size = 1 << 20;  // keep a lying 64 MiB header from dominating the run
  um::igtl::StreamReader reader(options);
  um::igtl::Message m;
  std::vector<uint8_t> scratch;
  bool closed = false;
  for (size_t at = 0; at < size && !closed; at += chunk) {
    reader.feed(data + at, chunk < size - at ? chunk : size - at);
    for (;;) {
      um::igtl::ReadOutcome o = reader.next(m);
      if (o.state == um::igtl::ReadState::kNeedMore) break;
      if (o.state == um::igtl::ReadState::kRejected) {
        if (o.close_connection) {
          closed = true;
          break;
        }
        continue;
      }
      scratch.clear();
      um::igtl::encode_into(m, scratch).ignore_error();
    }
  }
  if (!closed) (void)reader.finish();

  // The whole-message decoder on the same bytes.
  um::igtl::decode({data, size}, options).status().ignore_error();
  return 0;
}
