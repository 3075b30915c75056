// Stress options: parsing, validation and the generated gateway config (stress_options.h).
#include "stress/stress_options.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace um::stress {
namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return {};
  const size_t b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

bool parse_double(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// A YAML double-quoted scalar (paths may hold ':' or '#').
std::string quoted(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

Result<std::vector<int>> parse_stream_counts(const std::string& text) {
  std::vector<int> counts;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    double v = 0;
    if (!parse_double(item, &v) || v != std::floor(v) || v < 1 || v > 64)
      return invalid_argument("--streams: '" + item + "' is not a stream count in 1..64 (in '" +
                              text + "')");
    const int n = static_cast<int>(v);
    if (std::find(counts.begin(), counts.end(), n) != counts.end())
      return invalid_argument("--streams: " + item + " is listed twice (in '" + text + "')");
    counts.push_back(n);
  }
  if (counts.empty()) return invalid_argument("--streams: empty list");
  return counts;
}

Result<FpsSetting> parse_fps(const std::string& text) {
  FpsSetting f;
  if (trim(text) == "max") {
    f.max = true;
    return f;
  }
  double v = 0;
  if (!parse_double(trim(text), &v) || !(v > 0.0 && v <= 1000.0))
    return invalid_argument("--fps: '" + text + "' is neither 'max' nor a rate in (0, 1000]");
  f.fps = v;
  return f;
}

std::vector<std::string> option_errors(const StressOptions& o) {
  std::vector<std::string> e;
  if (o.stream_counts.empty()) e.push_back("--streams: no stream count");
  if (!(o.duration_s > 0)) e.push_back("--duration must be > 0 seconds");
  if (!(o.warmup_s >= 0)) e.push_back("--warmup must be >= 0 seconds");
  if (!(o.sample_interval_s >= 0.1 && o.sample_interval_s <= 60))
    e.push_back("--sample-interval must be in [0.1, 60] seconds");
  if (!(o.start_timeout_s > 0)) e.push_back("--start-timeout must be > 0 seconds");
  if (!(o.max_fps > 0 && o.max_fps <= 1000)) e.push_back("--max-fps must be in (0, 1000]");
  if (o.fault_interval_s < 0) e.push_back("--fault-interval must be >= 0 (0 = auto)");
  if (!(o.fault_timeout_s > 0)) e.push_back("--fault-timeout must be > 0 seconds");
  if (o.min_faults < 0) e.push_back("--min-faults must be >= 0");
  if (o.min_faults > 0 && !o.faults) e.push_back("--min-faults needs --faults");
  if (o.backend != "cpu" && o.backend != "cuda")
    e.push_back("--backend must be cpu or cuda (got '" + o.backend + "')");
  if (o.precision != "fp32" && o.precision != "fp16")
    e.push_back("--precision must be fp32 or fp16 (got '" + o.precision + "')");
  if (o.config_format != "auto" && o.config_format != "legacy" && o.config_format != "streams")
    e.push_back("--config-format must be auto, legacy or streams (got '" + o.config_format + "')");
  if (o.config_format == "legacy" &&
      std::any_of(o.stream_counts.begin(), o.stream_counts.end(), [](int n) { return n > 1; }))
    e.push_back("--config-format legacy holds one stream only: use streams (or auto) for N > 1");
  if (!(o.burst_probability >= 0 && o.burst_probability <= 1))
    e.push_back("--burst-probability must be in [0, 1]");
  if (o.max_batch < 0) e.push_back("--max-batch must be >= 0 (0 = as many as streams)");
  if (!(o.max_wait_ms >= 0)) e.push_back("--max-wait-ms must be >= 0");
  for (const std::string& s : o.gateway_set)
    if (s.find('=') == std::string::npos)
      e.push_back("--gateway-set '" + s + "' is not KEY=VALUE");
  return e;
}

double fault_interval(const StressOptions& o) {
  if (o.fault_interval_s > 0) return o.fault_interval_s;
  return std::clamp(o.duration_s / 7.0, 2.0, 60.0);
}

std::string stream_name(size_t index) {
  std::string name = "s";
  name += std::to_string(index + 1);
  return name;
}

double simulator_fps(const StressOptions& o) { return o.fps.max ? o.max_fps : o.fps.fps; }

bool uses_streams_format(const StressOptions& o, size_t n_streams) {
  if (o.config_format == "streams") return true;
  if (o.config_format == "legacy") return false;
  return n_streams > 1;
}

std::string gateway_config_yaml(const StressOptions& o, const std::vector<StreamEndpoints>& streams,
                                int dashboard_port) {
  std::ostringstream y;
  y << "# Written by `ultramotion stress` for the gateway under test.\n";
  auto plus = [](const StreamEndpoints& s) {
    return "{host: 127.0.0.1, port: " + std::to_string(s.plus_port) +
           ", device: Image_Reference}";
  };
  auto slicer = [](const StreamEndpoints& s) {
    return "{port: " + std::to_string(s.slicer_port) + ", device: BoneMask}";
  };
  if (uses_streams_format(o, streams.size())) {
    y << "streams:\n";
    for (const StreamEndpoints& s : streams)
      y << "  - {name: " << s.name << ", plus: " << plus(s) << ", slicer: " << slicer(s) << "}\n";
    y << "batching: {max_batch: " << o.max_batch << ", max_wait_ms: " << number(o.max_wait_ms)
      << ", overlap: " << (o.overlap ? "true" : "false") << "}\n";
  } else if (!streams.empty()) {
    y << "plus: " << plus(streams.front()) << "\n";
    y << "slicer: " << slicer(streams.front()) << "\n";
  }
  y << "dashboard: {enabled: true, port: " << dashboard_port << "}\n";
  y << "models: {dfine: " << quoted(o.dfine) << ", sam: " << quoted(o.sam)
    << ", backend: " << o.backend << ", precision: " << o.precision
    << ", allow_synthetic: " << (o.allow_synthetic ? "true" : "false") << "}\n";
  return y.str();
}

}  // namespace um::stress
