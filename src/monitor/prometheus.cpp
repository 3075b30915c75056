// File: src/monitor/prometheus.cpp
// Purpose: /metrics in the Prometheus text exposition format 0.0.4: one "# HELP" and "# TYPE"
// line per family, label values escaped (\\, \", \n), histograms as cumulative _bucket{le=...}
// series ending with le="+Inf", then _sum and _count. Latencies are exported in seconds.
#include <charconv>
#include <cmath>
#include <string>

#include "monitor/monitor.h"
#include "monitor/prometheus.h"

namespace um::monitor {

namespace {

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
    out.append(buf, r.ptr);
  }
}

void append_escaped(std::string& out, const std::string& s, bool quote_too) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote_too) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// {a="x",b="y"} plus an optional extra label (le); nothing when there are no labels.
void append_labels(std::string& out, const Labels& labels, const char* extra_key = nullptr,
                   const std::string& extra_value = {}) {
  if (labels.empty() && !extra_key) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    append_escaped(out, v, true);
    out += '"';
  }
  if (extra_key) {
    if (!first) out += ',';
    out += extra_key;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

std::string render_prometheus(const std::vector<FamilySnapshot>& families) {
  std::string out;
  out.reserve(16384);
  for (const FamilySnapshot& f : families) {
    if (f.series.empty()) continue;  // e.g. a callback whose figure is unavailable right now
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += metric_type_name(f.type);
    out += '\n';
    for (const SeriesSnapshot& s : f.series) {
      if (f.type != MetricType::kHistogram) {
        out += f.name;
        append_labels(out, s.labels);
        out += ' ';
        append_number(out, s.value);
        out += '\n';
        continue;
      }
      if (!s.totals) continue;
      const HistogramTotals& t = *s.totals;
      uint64_t cumulative = 0;
      for (size_t i = 0; i < t.bucket_counts.size(); ++i) {
        cumulative += t.bucket_counts[i];
        std::string le;
        if (i < kLatencyBucketBoundsNs.size()) {
          // Division (not * 1e-9) keeps the shortest form exact: 7500000 / 1e9 -> "0.0075".
          append_number(le, static_cast<double>(kLatencyBucketBoundsNs[i]) / 1e9);
        } else {
          le = "+Inf";
        }
        out += f.name;
        out += "_bucket";
        append_labels(out, s.labels, "le", le);
        out += ' ';
        out += std::to_string(cumulative);
        out += '\n';
      }
      out += f.name;
      out += "_sum";
      append_labels(out, s.labels);
      out += ' ';
      append_number(out, static_cast<double>(t.sum_ns) / 1e9);
      out += '\n';
      out += f.name;
      out += "_count";
      append_labels(out, s.labels);
      out += ' ';
      out += std::to_string(t.count);
      out += '\n';
    }
  }
  return out;
}

std::string Monitor::prometheus_text(int64_t now_ns) const {
  // Window 0: Prometheus needs only the cumulative buckets, so skip the ring sorting.
  return render_prometheus(registry_.collect(now_ns, 0));
}

}  // namespace um::monitor
