// The checked-in corpus of malformed streams (tests/igtl/corpus, made by make_corpus.py):
// each must be rejected with the reasons listed in corpus_manifest.txt, in order, counted by
// the StreamReader, and end with the documented decision (connection kept: the trailing valid
// message still arrives; closed: nothing after the rejection is delivered). Every stream is fed
// whole, byte by byte, and in odd-sized chunks: framing must not depend on how TCP splits bytes.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "igtl/stream_reader.h"
#include "test_support.h"

namespace um::igtl {
namespace {

struct CorpusCase {
  std::string name;
  std::vector<std::string> reasons;
  int messages = 0;
  bool closed = false;
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<CorpusCase> load_manifest() {
  std::ifstream in(test::source_dir() / "tests/igtl/corpus_manifest.txt");
  std::vector<CorpusCase> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string part; std::getline(ss, part, '|');) f.push_back(trim(part));
    if (f.size() != 4) continue;
    CorpusCase c;
    c.name = f[0];
    std::stringstream rs(f[1]);
    for (std::string r; std::getline(rs, r, ',');)
      if (!r.empty()) c.reasons.push_back(r);
    c.messages = std::stoi(f[2]);
    c.closed = f[3] == "1";
    out.push_back(c);
  }
  return out;
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct StreamRun {
  std::vector<std::string> reasons;
  int messages = 0;
  bool closed = false;
  StreamReader reader;
};

void drain(StreamRun& run) {
  Message m;
  while (!run.closed) {
    ReadOutcome o = run.reader.next(m);
    if (o.state == ReadState::kNeedMore) return;
    if (o.state == ReadState::kMessage) {
      ++run.messages;
      continue;
    }
    EXPECT_FALSE(o.status.ok());
    EXPECT_EQ(o.status.code(), um::StatusCode::kDataLoss) << o.status.to_string();
    run.reasons.push_back(reject_reason_name(o.reason));
    if (o.close_connection) run.closed = true;
  }
}

void run_stream(const std::vector<uint8_t>& bytes, size_t chunk, StreamRun& run) {
  for (size_t at = 0; at < bytes.size() && !run.closed; at += chunk) {
    run.reader.feed(bytes.data() + at, std::min(chunk, bytes.size() - at));
    drain(run);
  }
  if (!run.closed) {
    ReadOutcome o = run.reader.finish();  // the peer closes after the last byte
    if (o.state == ReadState::kRejected) {
      run.reasons.push_back(reject_reason_name(o.reason));
      run.closed = o.close_connection;
    }
  }
}

TEST(IgtlCorpus, EveryStreamRejectedAsDocumented) {
  const auto cases = load_manifest();
  ASSERT_GE(cases.size(), 30u) << "corpus_manifest.txt missing or short";
  for (const auto& c : cases) {
    const auto bytes = read_bytes(test::source_dir() / "tests/igtl/corpus" / (c.name + ".bin"));
    ASSERT_FALSE(bytes.empty()) << c.name;
    for (size_t chunk : {bytes.size(), size_t{1}, size_t{7}, size_t{61}}) {
      SCOPED_TRACE(c.name + " chunk " + std::to_string(chunk));
      StreamRun run;
      run_stream(bytes, chunk, run);
      EXPECT_EQ(run.reasons, c.reasons);
      EXPECT_EQ(run.messages, c.messages);
      EXPECT_EQ(run.closed, c.closed);
      // The counters agree with what was reported.
      uint64_t total = 0;
      for (const auto& r : c.reasons) {
        for (size_t i = 0; i < static_cast<size_t>(RejectReason::kCount); ++i) {
          if (r == reject_reason_name(static_cast<RejectReason>(i))) {
            EXPECT_GE(run.reader.rejects()[i], 1u) << r;
          }
        }
        ++total;
      }
      EXPECT_EQ(run.reader.total_rejects(), total);
      // Documented policy: the close decision is a function of the last reason.
      if (!c.reasons.empty()) {
        for (size_t i = 0; i < static_cast<size_t>(RejectReason::kCount); ++i) {
          auto r = static_cast<RejectReason>(i);
          if (c.reasons.back() == reject_reason_name(r)) {
            EXPECT_EQ(reject_closes_connection(r), c.closed);
          }
        }
      }
    }
  }
}

TEST(IgtlCorpus, UnknownTypeIsFramedBySizeAndCounted) {
  StreamReader reader;
  const auto bytes = read_bytes(test::source_dir() / "tests/igtl/corpus/unknown_type_skipped.bin");
  reader.feed(bytes.data(), bytes.size());
  Message m;
  ASSERT_EQ(reader.next(m).state, ReadState::kMessage);
  EXPECT_EQ(m.type, "FOOBAR");
  EXPECT_EQ(std::get<RawContent>(m.content).bytes.size(), 5u);
  ASSERT_EQ(reader.next(m).state, ReadState::kMessage);
  EXPECT_EQ(m.device_name, "Sentinel");
  EXPECT_EQ(reader.unknown_types(), 1u);
  EXPECT_EQ(reader.total_rejects(), 0u);
}

TEST(IgtlCorpus, MaxBodySizeIsConfigurable) {
  DecodeOptions o;
  o.max_body_size = 64;
  StreamReader reader(o);
  const auto bytes = read_bytes(test::source_dir() / "tests/igtl/corpus/valid_image_v1.bin");
  reader.feed(bytes.data(), bytes.size());
  Message m;
  ReadOutcome r = reader.next(m);
  EXPECT_EQ(r.state, ReadState::kRejected);
  EXPECT_EQ(r.reason, RejectReason::kBodyTooLarge);
  EXPECT_TRUE(r.close_connection);
  // A failed reader stays failed until reset().
  EXPECT_EQ(reader.next(m).state, ReadState::kRejected);
  reader.reset();
  EXPECT_EQ(reader.next(m).state, ReadState::kNeedMore);
}

}  // namespace
}  // namespace um::igtl
