#include "igtl/describe.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "igtl/header.h"

namespace um::igtl {
namespace {

std::string fmt(const char* f, double a, double b, double c) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

std::string printable(const std::string& s, size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

std::string format_timestamp(uint64_t timestamp) {
  if (timestamp == 0) return "0";
  // Rounded to the microsecond: 32.32 fractions are not exact in decimal.
  const int64_t us = (timestamp_to_ns(timestamp) + 500) / 1000;
  const std::time_t sec = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&sec, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1000000));
  return buf;
}

std::string describe(const Message& m, uint64_t body_size) {
  char head[256];
  std::snprintf(head, sizeof head, "%s device='%s' header_v%u body=%" PRIu64 " bytes ts=%s",
                m.type.c_str(), printable(m.device_name).c_str(), m.header_version, body_size,
                format_timestamp(m.timestamp).c_str());
  std::string out = head;
  if (m.header_version >= 2) out += " id=" + std::to_string(m.message_id);
  if (const auto* img = std::get_if<ImageContent>(&m.content)) {
    const auto& g = img->geometry;
    out += "\n  image " + std::to_string(g.size[0]) + "x" + std::to_string(g.size[1]) + "x" +
           std::to_string(g.size[2]) + " " + scalar_type_name(img->scalar_type) + " x" +
           std::to_string(img->components) +
           (g.coordinates == CoordinateSystem::kRAS ? " RAS" : " LPS") +
           (img->wire_endian == Endian::kLittle ? " little-endian" : " big-endian");
    out += "\n  spacing " + fmt("%g %g %g", g.spacing[0], g.spacing[1], g.spacing[2]);
    out += "  origin " + fmt("%g %g %g", g.origin[0], g.origin[1], g.origin[2]);
    const Vec3 c = g.centre();
    out += "  centre " + fmt("%g %g %g", c[0], c[1], c[2]);
    for (int a = 0; a < 3; ++a) {
      out += std::string("\n  axis ") + "ijk"[a] + " " +
             fmt("%g %g %g", g.direction[a][0], g.direction[a][1], g.direction[a][2]);
    }
    if (img->subvolume_size != g.size) {
      out += "\n  sub-volume " + std::to_string(img->subvolume_size[0]) + "x" +
             std::to_string(img->subvolume_size[1]) + "x" +
             std::to_string(img->subvolume_size[2]) + " at " +
             std::to_string(img->subvolume_offset[0]) + "," +
             std::to_string(img->subvolume_offset[1]) + "," +
             std::to_string(img->subvolume_offset[2]);
    }
  } else if (const auto* s = std::get_if<StatusContent>(&m.content)) {
    out += "\n  status code=" + std::to_string(s->code) + " subcode=" + std::to_string(s->subcode) +
           " name='" + printable(s->error_name) + "' message='" + printable(s->message) + "'";
  } else if (const auto* s = std::get_if<StringContent>(&m.content)) {
    out += "\n  string (encoding " + std::to_string(s->encoding) + ") '" + printable(s->text) + "'";
  } else if (const auto* t = std::get_if<TransformContent>(&m.content)) {
    for (int r = 0; r < 3; ++r) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "\n  [%10.4f %10.4f %10.4f %10.4f]", t->matrix[r][0],
                    t->matrix[r][1], t->matrix[r][2], t->matrix[r][3]);
      out += buf;
    }
  } else if (const auto* raw = std::get_if<RawContent>(&m.content)) {
    if (!raw->bytes.empty()) out += "\n  " + std::to_string(raw->bytes.size()) + " content bytes (not decoded)";
  }
  for (const auto& e : m.metadata) {
    out += "\n  meta " + printable(e.key) + " = '" + printable(e.value) + "'";
    if (e.encoding != kEncodingUsAscii) out += " (encoding " + std::to_string(e.encoding) + ")";
  }
  return out;
}

}  // namespace um::igtl
