// The `streams:` list: parsing, resolution against the top-level values, validation
// (stream_config.h).
#include "gateway/stream_config.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace um::gateway {
namespace {

bool valid_stream_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Reads one scalar into an optional; a wrong type is one error line naming the path.
template <typename T>
void read_scalar(const YAML::Node& node, const std::string& path, std::optional<T>* out,
                 std::vector<std::string>* errors) {
  if (!node.IsScalar()) {
    errors->push_back(path + ": expected a single value");
    return;
  }
  T value{};
  if (!YAML::convert<T>::decode(node, value)) {
    errors->push_back(path + ": expected " +
                      (std::is_same_v<T, int> ? std::string("an integer") : "a string") +
                      ", got '" + node.Scalar() + "'");
    return;
  }
  *out = value;
}

void parse_plus(const YAML::Node& node, const std::string& path, StreamSpec* s,
                std::vector<std::string>* errors) {
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>("");
    const std::string p = path + "." + key;
    if (key == "host") read_scalar(kv.second, p, &s->plus_host, errors);
    else if (key == "port") read_scalar(kv.second, p, &s->plus_port, errors);
    else if (key == "device") read_scalar(kv.second, p, &s->plus_device, errors);
    else if (key == "reconnect_ms") read_scalar(kv.second, p, &s->plus_reconnect_ms, errors);
    else errors->push_back(p + ": unknown key (a stream's plus: takes host, port, device, "
                               "reconnect_ms)");
  }
}

void parse_slicer(const YAML::Node& node, const std::string& path, StreamSpec* s,
                  std::vector<std::string>* errors) {
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>("");
    const std::string p = path + "." + key;
    if (key == "port") read_scalar(kv.second, p, &s->slicer_port, errors);
    else if (key == "device") read_scalar(kv.second, p, &s->slicer_device, errors);
    else errors->push_back(p + ": unknown key (a stream's slicer: takes port and device; "
                               "outputs and label_value come from the top-level slicer:)");
  }
}

// "streams[1] (probe2)" for messages about a stream.
std::string stream_ref(size_t i, const std::string& name) {
  std::string r = "streams[" + std::to_string(i) + "]";
  if (!name.empty()) r += " (" + name + ")";
  return r;
}

void check_port(const std::string& name, int port, std::vector<std::string>* errors) {
  if (port < 0 || port > 65535)
    errors->push_back(name + ": port " + std::to_string(port) +
                      " is out of range 0..65535 (0 = any free port)");
}

}  // namespace

std::vector<StreamSettings> effective_streams(const GatewayConfig& cfg) {
  std::vector<StreamSettings> out;
  if (cfg.streams.empty()) {
    out.push_back({kDefaultStreamName, cfg.plus, cfg.slicer});
    return out;
  }
  for (const StreamSpec& spec : cfg.streams) {
    StreamSettings s{spec.name, cfg.plus, cfg.slicer};
    if (spec.plus_host) s.plus.host = *spec.plus_host;
    if (spec.plus_port) s.plus.port = *spec.plus_port;
    if (spec.plus_device) s.plus.device = *spec.plus_device;
    if (spec.plus_reconnect_ms) s.plus.reconnect_ms = *spec.plus_reconnect_ms;
    if (spec.slicer_port) s.slicer.port = *spec.slicer_port;
    if (spec.slicer_device) s.slicer.device = *spec.slicer_device;
    out.push_back(std::move(s));
  }
  return out;
}

int effective_max_batch(const GatewayConfig& cfg) {
  const int n = static_cast<int>(std::max<size_t>(1, cfg.streams.size()));
  return cfg.batching.max_batch > 0 ? cfg.batching.max_batch : n;
}

void parse_streams_yaml(const YAML::Node& node, GatewayConfig* cfg,
                        std::vector<std::string>* errors) {
  if (node.IsNull()) {
    cfg->streams.clear();  // "streams:" with nothing: the single top-level stream
    return;
  }
  if (!node.IsSequence()) {
    errors->push_back("streams: expected a list of streams (- name: ..., plus: ..., slicer: ...)");
    return;
  }
  std::vector<StreamSpec> streams;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& entry = node[i];
    const std::string path = "streams[" + std::to_string(i) + "]";
    if (!entry.IsMap()) {
      errors->push_back(path + ": expected a mapping with name, plus and slicer");
      continue;
    }
    StreamSpec s;
    for (const auto& kv : entry) {
      const std::string key = kv.first.as<std::string>("");
      const std::string p = path + "." + key;
      if (key == "name") {
        std::optional<std::string> name;
        read_scalar(kv.second, p, &name, errors);
        if (name) s.name = *name;
      } else if (key == "plus" || key == "slicer") {
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsMap()) {
          errors->push_back(p + ": expected a mapping of settings");
          continue;
        }
        if (key == "plus") parse_plus(kv.second, p, &s, errors);
        else parse_slicer(kv.second, p, &s, errors);
      } else {
        errors->push_back(p + ": unknown key (a stream takes name, plus, slicer)");
      }
    }
    streams.push_back(std::move(s));
  }
  cfg->streams = std::move(streams);
}

void stream_config_errors(const GatewayConfig& cfg, std::vector<std::string>* e) {
  const BatchingConfig& b = cfg.batching;
  if (b.max_batch < 0 || b.max_batch > kMaxStreams)
    e->push_back("batching.max_batch: " + std::to_string(b.max_batch) + " is out of range 0.." +
                 std::to_string(kMaxStreams) + " (0 = the number of streams)");
  if (!(b.max_wait_ms >= 0.0 && b.max_wait_ms <= 1000.0))
    e->push_back("batching.max_wait_ms: " + std::to_string(b.max_wait_ms) +
                 " is out of range 0..1000");
  if (cfg.gpu < -1 || cfg.gpu > 63)
    e->push_back("gpu: " + std::to_string(cfg.gpu) + " is out of range 0..63 (-1 = not set)");
  if (cfg.streams.empty()) return;  // the single stream: config_errors checks plus:/slicer:

  if (cfg.streams.size() > static_cast<size_t>(kMaxStreams))
    e->push_back("streams: " + std::to_string(cfg.streams.size()) + " streams, at most " +
                 std::to_string(kMaxStreams) + " per process");
  const std::vector<StreamSettings> streams = effective_streams(cfg);
  std::map<std::string, size_t> names;
  std::map<int, size_t> slicer_ports;
  std::map<int, size_t> plus_ports;  // first stream using each PLUS port (clash with listeners)
  for (size_t i = 0; i < streams.size(); ++i) {
    const StreamSettings& s = streams[i];
    const std::string ref = stream_ref(i, s.name);
    if (s.name.empty()) {
      e->push_back(ref + ".name: every stream needs a name");
    } else if (!valid_stream_name(s.name)) {
      e->push_back(ref + ".name: '" + s.name +
                   "' may only hold letters, digits, '_' and '-'");
    } else if (auto [it, fresh] = names.emplace(s.name, i); !fresh) {
      e->push_back(ref + ".name: '" + s.name + "' is already the name of " +
                   stream_ref(it->second, s.name));
    }
    if (s.plus.host.empty()) e->push_back(ref + ".plus.host: must not be empty");
    check_port(ref + ".plus.port", s.plus.port, e);
    check_port(ref + ".slicer.port", s.slicer.port, e);
    if (s.plus.reconnect_ms < 10 || s.plus.reconnect_ms > 60000)
      e->push_back(ref + ".plus.reconnect_ms: " + std::to_string(s.plus.reconnect_ms) +
                   " is out of range 10..60000");
    if (s.plus.device.size() > 20)
      e->push_back(ref + ".plus.device: '" + s.plus.device + "' is longer than 20 characters");
    if (s.slicer.device.empty() || s.slicer.device.size() > 20)
      e->push_back(ref + ".slicer.device: '" + s.slicer.device + "' must have 1 to 20 characters");
    else if (s.slicer.device.size() > 20 - 6 && s.slicer.outputs.weights)
      e->push_back(ref + ".slicer.device: '" + s.slicer.device +
                   "' is too long for the weight outputs (name + '_Wedge' must fit 20 characters)");
    // Port 0 = any free port: never a clash.
    if (s.slicer.port != 0) {
      if (auto [it, fresh] = slicer_ports.emplace(s.slicer.port, i); !fresh)
        e->push_back("port clash: " + ref + ".slicer.port and " +
                     stream_ref(it->second, streams[it->second].name) + ".slicer.port are both " +
                     std::to_string(s.slicer.port));
      if (cfg.dashboard.enabled && cfg.dashboard.port == s.slicer.port)
        e->push_back("port clash: " + ref + ".slicer.port and dashboard.port are both " +
                     std::to_string(s.slicer.port));
    }
    if (s.plus.port != 0) {
      plus_ports.emplace(s.plus.port, i);
      if (cfg.dashboard.enabled && cfg.dashboard.port == s.plus.port)
        e->push_back("port clash: " + ref + ".plus.port and dashboard.port are both " +
                     std::to_string(s.plus.port));
    }
    // Two streams reading the same images: same PLUS host:port and the same device (or one of
    // them accepting any device).
    for (size_t j = 0; j < i; ++j) {
      const StreamSettings& o = streams[j];
      if (s.plus.port == 0 || s.plus.port != o.plus.port || s.plus.host != o.plus.host) continue;
      if (s.plus.device == o.plus.device || s.plus.device.empty() || o.plus.device.empty())
        e->push_back("input clash: " + ref + " and " + stream_ref(j, o.name) +
                     " both read device '" + (s.plus.device.empty() ? "*" : s.plus.device) +
                     "' from " + s.plus.host + ":" + std::to_string(s.plus.port));
    }
  }
  // The gateway listens on the Slicer ports; `demo` and `stress` simulators listen on the PLUS
  // ports: one port cannot be both.
  for (const auto& [port, i] : slicer_ports) {
    auto it = plus_ports.find(port);
    if (it != plus_ports.end())
      e->push_back("port clash: " + stream_ref(i, streams[i].name) + ".slicer.port and " +
                   stream_ref(it->second, streams[it->second].name) + ".plus.port are both " +
                   std::to_string(port));
  }
}

YAML::Node streams_to_yaml(const std::vector<StreamSpec>& streams) {
  YAML::Node list(YAML::NodeType::Sequence);
  for (const StreamSpec& s : streams) {
    YAML::Node n;
    n["name"] = s.name;
    if (s.plus_host) n["plus"]["host"] = *s.plus_host;
    if (s.plus_port) n["plus"]["port"] = *s.plus_port;
    if (s.plus_device) n["plus"]["device"] = *s.plus_device;
    if (s.plus_reconnect_ms) n["plus"]["reconnect_ms"] = *s.plus_reconnect_ms;
    if (s.slicer_port) n["slicer"]["port"] = *s.slicer_port;
    if (s.slicer_device) n["slicer"]["device"] = *s.slicer_device;
    list.push_back(n);
  }
  return list;
}

nlohmann::json streams_to_json(const std::vector<StreamSpec>& streams) {
  nlohmann::json list = nlohmann::json::array();
  for (const StreamSpec& s : streams) {
    nlohmann::json n = {{"name", s.name}};
    if (s.plus_host) n["plus"]["host"] = *s.plus_host;
    if (s.plus_port) n["plus"]["port"] = *s.plus_port;
    if (s.plus_device) n["plus"]["device"] = *s.plus_device;
    if (s.plus_reconnect_ms) n["plus"]["reconnect_ms"] = *s.plus_reconnect_ms;
    if (s.slicer_port) n["slicer"]["port"] = *s.slicer_port;
    if (s.slicer_device) n["slicer"]["device"] = *s.slicer_device;
    list.push_back(std::move(n));
  }
  return list;
}

}  // namespace um::gateway
