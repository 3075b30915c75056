// Config parsing, overrides and validation. One table (kFields) maps each dotted key path to the
// member it sets, so parsing, --set overrides, unknown-key detection and YAML output can never
// disagree about which keys exist.
#include "gateway/config.h"
#include "gateway/stream_config.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <variant>

namespace um::gateway {
namespace {

using Ref = std::variant<int*, double*, bool*, std::string*>;

struct Field {
  const char* path;
  std::function<Ref(GatewayConfig&)> ref;
};

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = {
      {"plus.host", [](GatewayConfig& c) -> Ref { return &c.plus.host; }},
      {"plus.port", [](GatewayConfig& c) -> Ref { return &c.plus.port; }},
      {"plus.device", [](GatewayConfig& c) -> Ref { return &c.plus.device; }},
      {"plus.reconnect_ms", [](GatewayConfig& c) -> Ref { return &c.plus.reconnect_ms; }},
      {"slicer.port", [](GatewayConfig& c) -> Ref { return &c.slicer.port; }},
      {"slicer.device", [](GatewayConfig& c) -> Ref { return &c.slicer.device; }},
      {"slicer.label_value", [](GatewayConfig& c) -> Ref { return &c.slicer.label_value; }},
      {"slicer.outputs.bone_mask",
       [](GatewayConfig& c) -> Ref { return &c.slicer.outputs.bone_mask; }},
      {"slicer.outputs.weights", [](GatewayConfig& c) -> Ref { return &c.slicer.outputs.weights; }},
      {"slicer.outputs.status", [](GatewayConfig& c) -> Ref { return &c.slicer.outputs.status; }},
      {"dashboard.enabled", [](GatewayConfig& c) -> Ref { return &c.dashboard.enabled; }},
      {"dashboard.port", [](GatewayConfig& c) -> Ref { return &c.dashboard.port; }},
      {"models.dfine", [](GatewayConfig& c) -> Ref { return &c.models.dfine; }},
      {"models.sam", [](GatewayConfig& c) -> Ref { return &c.models.sam; }},
      {"models.precision", [](GatewayConfig& c) -> Ref { return &c.models.precision; }},
      {"models.backend", [](GatewayConfig& c) -> Ref { return &c.models.backend; }},
      {"models.resize", [](GatewayConfig& c) -> Ref { return &c.models.resize; }},
      {"models.allow_synthetic",
       [](GatewayConfig& c) -> Ref { return &c.models.allow_synthetic; }},
      {"models.mask_prompt_reuse",
       [](GatewayConfig& c) -> Ref { return &c.models.mask_prompt_reuse; }},
      {"thresholds.tau_conf", [](GatewayConfig& c) -> Ref { return &c.thresholds.tau_conf; }},
      {"thresholds.theta_on", [](GatewayConfig& c) -> Ref { return &c.thresholds.theta_on; }},
      {"thresholds.theta_off", [](GatewayConfig& c) -> Ref { return &c.thresholds.theta_off; }},
      {"thresholds.theta_cont", [](GatewayConfig& c) -> Ref { return &c.thresholds.theta_cont; }},
      {"detector_skip.every", [](GatewayConfig& c) -> Ref { return &c.detector_skip.every; }},
      {"detector_skip.min_box_iou",
       [](GatewayConfig& c) -> Ref { return &c.detector_skip.min_box_iou; }},
      {"detector_skip.min_score",
       [](GatewayConfig& c) -> Ref { return &c.detector_skip.min_score; }},
      {"detector_skip.max_quality_drop",
       [](GatewayConfig& c) -> Ref { return &c.detector_skip.max_quality_drop; }},
      {"queues.rx_capacity", [](GatewayConfig& c) -> Ref { return &c.queues.rx_capacity; }},
      {"queues.tx_capacity", [](GatewayConfig& c) -> Ref { return &c.queues.tx_capacity; }},
      {"queues.max_frame_age_ms",
       [](GatewayConfig& c) -> Ref { return &c.queues.max_frame_age_ms; }},
      {"record", [](GatewayConfig& c) -> Ref { return &c.record; }},
      {"kpi_log.file", [](GatewayConfig& c) -> Ref { return &c.kpi_log.file; }},
      {"kpi_log.interval_ms", [](GatewayConfig& c) -> Ref { return &c.kpi_log.interval_ms; }},
      {"batching.max_batch", [](GatewayConfig& c) -> Ref { return &c.batching.max_batch; }},
      {"batching.max_wait_ms", [](GatewayConfig& c) -> Ref { return &c.batching.max_wait_ms; }},
      {"batching.overlap", [](GatewayConfig& c) -> Ref { return &c.batching.overlap; }},
      {"gpu", [](GatewayConfig& c) -> Ref { return &c.gpu; }},
  };
  return kFields;
}

const Field* find_field(const std::string& path) {
  for (const Field& f : fields())
    if (path == f.path) return &f;
  return nullptr;
}

// True when `path` is a section that holds fields ("plus", "slicer.outputs").
bool is_section(const std::string& path) {
  const std::string prefix = path + ".";
  for (const Field& f : fields())
    if (std::string(f.path).rfind(prefix, 0) == 0) return true;
  return false;
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

// Converts one scalar into the field; appends an error line on a type mismatch.
void set_field(const Field& f, const YAML::Node& node, GatewayConfig* cfg,
               std::vector<std::string>* errors) {
  const std::string path = f.path;
  Ref ref = f.ref(*cfg);
  if (node.IsNull()) {
    // "record:" with no value means "no recording"; other fields need a value.
    if (auto* s = std::get_if<std::string*>(&ref)) {
      **s = "";
      return;
    }
    errors->push_back(path + ": a value is required");
    return;
  }
  if (!node.IsScalar()) {
    errors->push_back(path + ": expected a single value, got " + describe(node));
    return;
  }
  const std::string text = node.Scalar();
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        T value{};
        if (!YAML::convert<T>::decode(node, value)) {
          const char* kind = std::is_same_v<T, int>      ? "an integer"
                             : std::is_same_v<T, double> ? "a number"
                             : std::is_same_v<T, bool>   ? "true or false"
                                                         : "a string";
          errors->push_back(path + ": expected " + kind + ", got '" + text + "'");
          return;
        }
        *p = value;
      },
      ref);
}

void walk(const YAML::Node& node, const std::string& path, GatewayConfig* cfg,
          std::vector<std::string>* errors) {
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>("");
    const std::string child = path.empty() ? key : path + "." + key;
    if (child == "streams") {  // a list, not a table field (stream_config.h)
      parse_streams_yaml(kv.second, cfg, errors);
    } else if (const Field* f = find_field(child)) {
      set_field(*f, kv.second, cfg, errors);
    } else if (is_section(child)) {
      if (kv.second.IsMap()) {
        walk(kv.second, child, cfg, errors);
      } else if (!kv.second.IsNull()) {
        errors->push_back(child + ": expected a mapping of settings, got " + describe(kv.second));
      }
    } else {
      errors->push_back(child + ": unknown key");
    }
  }
}

Status errors_to_status(const std::string& source, const std::vector<std::string>& errors) {
  if (errors.empty()) return Status::Ok();
  std::string msg = source + ": " + std::to_string(errors.size()) + " problem(s)";
  for (const auto& e : errors) msg += "\n  - " + e;
  return invalid_argument(msg);
}

// 0 means "any free port" (tests, several gateways on one machine).
void check_port(const char* name, int port, std::vector<std::string>* errors) {
  if (port < 0 || port > 65535)
    errors->push_back(std::string(name) + ": port " + std::to_string(port) +
                      " is out of range 0..65535 (0 = any free port)");
}

void check_unit(const char* name, double v, std::vector<std::string>* errors) {
  if (!(v >= 0.0 && v <= 1.0))
    errors->push_back(std::string(name) + ": " + std::to_string(v) + " is out of range 0..1");
}

void check_one_of(const char* name, const std::string& v, std::initializer_list<const char*> ok,
                  std::vector<std::string>* errors) {
  std::string allowed;
  for (const char* o : ok) {
    if (v == o) return;
    allowed += allowed.empty() ? o : std::string(" | ") + o;
  }
  errors->push_back(std::string(name) + ": '" + v + "' is not one of " + allowed);
}

}  // namespace

Status parse_config_yaml(const std::string& yaml_text, GatewayConfig* cfg,
                         const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return invalid_argument(source_name + ": YAML syntax error at line " +
                            std::to_string(e.mark.line + 1) + ", column " +
                            std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return Status::Ok();  // an empty file keeps the defaults
  if (!root.IsMap())
    return invalid_argument(source_name + ": the top level must be a mapping of sections");
  std::vector<std::string> errors;
  walk(root, "", cfg, &errors);
  return errors_to_status(source_name, errors);
}

Status load_config_file(const std::string& path, GatewayConfig* cfg) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("config file '" + path + "' not found or unreadable");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config_yaml(ss.str(), cfg, path);
}

Status apply_override(GatewayConfig* cfg, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    return invalid_argument("--set '" + assignment + "': expected key.path=value");
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  const Field* f = find_field(path);
  if (!f) return invalid_argument("--set " + path + ": unknown key");
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception&) {
    node = YAML::Node(value);  // not YAML: take the text literally (e.g. a path with ':')
  }
  if (value.empty()) node = YAML::Node(YAML::NodeType::Null);
  std::vector<std::string> errors;
  set_field(*f, node, cfg, &errors);  // one field: at most one error, returned as one line
  return errors.empty() ? Status::Ok() : invalid_argument(errors.front());
}

std::vector<std::string> config_errors(const GatewayConfig& cfg) {
  namespace fs = std::filesystem;
  std::vector<std::string> e;
  if (cfg.plus.host.empty()) e.push_back("plus.host: must not be empty");
  check_port("plus.port", cfg.plus.port, &e);
  check_port("slicer.port", cfg.slicer.port, &e);
  if (cfg.dashboard.enabled) check_port("dashboard.port", cfg.dashboard.port, &e);
  if (cfg.plus.reconnect_ms < 10 || cfg.plus.reconnect_ms > 60000)
    e.push_back("plus.reconnect_ms: " + std::to_string(cfg.plus.reconnect_ms) +
                " is out of range 10..60000");
  if (cfg.plus.device.size() > 20)
    e.push_back("plus.device: '" + cfg.plus.device + "' is longer than 20 characters");

  // Port clashes: the gateway listens on slicer and dashboard ports, and connects to PLUS (the
  // simulator of `demo` listens there), so no two may coincide.
  struct P {
    const char* name;
    int port;
    bool used;
  };
  const P ports[] = {{"plus.port", cfg.plus.port, true},
                     {"slicer.port", cfg.slicer.port, true},
                     {"dashboard.port", cfg.dashboard.port, cfg.dashboard.enabled}};
  // With a `streams:` list the top-level plus:/slicer: ports are only defaults: the streams'
  // own ports are checked by stream_config_errors.
  for (size_t i = 0; i < 3 && cfg.streams.empty(); ++i)
    for (size_t j = i + 1; j < 3; ++j)
      if (ports[i].used && ports[j].used && ports[i].port == ports[j].port && ports[i].port != 0)
        e.push_back(std::string("port clash: ") + ports[i].name + " and " + ports[j].name +
                    " are both " + std::to_string(ports[i].port));

  if (cfg.slicer.device.empty() || cfg.slicer.device.size() > 20)
    e.push_back("slicer.device: '" + cfg.slicer.device + "' must have 1 to 20 characters");
  else if (cfg.slicer.device.size() > 20 - 6 && cfg.slicer.outputs.weights)
    e.push_back("slicer.device: '" + cfg.slicer.device +
                "' is too long for the weight outputs (name + '_Wedge' must fit 20 characters)");
  if (cfg.slicer.label_value != 1 && cfg.slicer.label_value != 255)
    e.push_back("slicer.label_value: " + std::to_string(cfg.slicer.label_value) +
                " must be 1 or 255");
  if (!cfg.slicer.outputs.bone_mask && !cfg.slicer.outputs.weights)
    e.push_back("slicer.outputs: bone_mask and weights are both off, nothing would be sent");

  {
    for (const auto& [name, path] :
         {std::pair<const char*, std::string>{"models.dfine", cfg.models.dfine},
          {"models.sam", cfg.models.sam}}) {
      std::error_code ec;
      const bool exists = !path.empty() && fs::exists(path, ec);
      if (!exists && cfg.models.allow_synthetic) continue;  // seeded synthetic weights
      if (path.empty())
        e.push_back(std::string(name) + ": no checkpoint path given");
      else if (!exists)
        e.push_back(std::string(name) + ": checkpoint file '" + path +
                    "' does not exist (models.allow_synthetic: true runs seeded synthetic "
                    "weights instead, for demos only)");
      else if (!fs::is_regular_file(path, ec))
        e.push_back(std::string(name) + ": checkpoint '" + path + "' is not a file");
    }
  }
  check_one_of("models.precision", cfg.models.precision, {"fp32", "fp16"}, &e);
  check_one_of("models.backend", cfg.models.backend, {"cpu", "cuda"}, &e);
  check_one_of("models.resize", cfg.models.resize, {"stretch", "letterbox"}, &e);
  if (cfg.models.precision == "fp16" && cfg.models.backend == "cpu")
    e.push_back("models.precision: fp16 needs models.backend cuda (the CPU backend is float32)");

  check_unit("thresholds.tau_conf", cfg.thresholds.tau_conf, &e);
  check_unit("thresholds.theta_on", cfg.thresholds.theta_on, &e);
  check_unit("thresholds.theta_off", cfg.thresholds.theta_off, &e);
  check_unit("thresholds.theta_cont", cfg.thresholds.theta_cont, &e);
  if (cfg.thresholds.theta_off >= cfg.thresholds.theta_on)
    e.push_back("thresholds: theta_off (" + std::to_string(cfg.thresholds.theta_off) +
                ") must be below theta_on (" + std::to_string(cfg.thresholds.theta_on) +
                ") for hysteresis");

  if (cfg.detector_skip.every < 1 || cfg.detector_skip.every > 1000)
    e.push_back("detector_skip.every: " + std::to_string(cfg.detector_skip.every) +
                " is out of range 1..1000 (1 = D-FINE on every frame)");
  check_unit("detector_skip.min_box_iou", cfg.detector_skip.min_box_iou, &e);
  check_unit("detector_skip.min_score", cfg.detector_skip.min_score, &e);
  check_unit("detector_skip.max_quality_drop", cfg.detector_skip.max_quality_drop, &e);

  if (cfg.queues.rx_capacity < 1 || cfg.queues.rx_capacity > 64)
    e.push_back("queues.rx_capacity: " + std::to_string(cfg.queues.rx_capacity) +
                " is out of range 1..64");
  if (cfg.queues.tx_capacity < 1 || cfg.queues.tx_capacity > 1024)
    e.push_back("queues.tx_capacity: " + std::to_string(cfg.queues.tx_capacity) +
                " is out of range 1..1024");
  if (cfg.queues.max_frame_age_ms < 1 || cfg.queues.max_frame_age_ms > 60000)
    e.push_back("queues.max_frame_age_ms: " + std::to_string(cfg.queues.max_frame_age_ms) +
                " is out of range 1..60000");

  if (!cfg.record.empty()) {
    std::error_code ec;
    fs::path parent = fs::path(cfg.record).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
      e.push_back("record: folder '" + parent.string() + "' does not exist");
    else if (fs::is_directory(cfg.record, ec))
      e.push_back("record: '" + cfg.record + "' is a folder, expected a file name");
  }
  if (!cfg.kpi_log.file.empty()) {
    std::error_code ec;
    fs::path parent = fs::path(cfg.kpi_log.file).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
      e.push_back("kpi_log.file: folder '" + parent.string() + "' does not exist");
  }
  if (cfg.kpi_log.interval_ms < 10 || cfg.kpi_log.interval_ms > 3600000)
    e.push_back("kpi_log.interval_ms: " + std::to_string(cfg.kpi_log.interval_ms) +
                " is out of range 10..3600000");
  stream_config_errors(cfg, &e);
  return e;
}

Status validate_config(const GatewayConfig& cfg) {
  return errors_to_status("invalid configuration", config_errors(cfg));
}

std::string config_to_yaml(const GatewayConfig& cfg) {
  GatewayConfig copy = cfg;
  YAML::Node root;
  for (const Field& f : fields()) {
    // Build nested maps from the dotted path.
    std::vector<std::string> parts;
    std::stringstream ss(f.path);
    for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
    // yaml-cpp nodes fetched by operator[] are only attached when assigned through the full
    // chain, so assign by depth (paths have 1 to 3 parts).
    std::visit(
        [&](auto* p) {
          if (parts.size() == 1) root[parts[0]] = *p;
          else if (parts.size() == 2) root[parts[0]][parts[1]] = *p;
          else root[parts[0]][parts[1]][parts[2]] = *p;
        },
        f.ref(copy));
  }
  if (!cfg.streams.empty()) root["streams"] = streams_to_yaml(cfg.streams);
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::string config_to_json(const GatewayConfig& cfg) {
  GatewayConfig copy = cfg;
  nlohmann::json root = nlohmann::json::object();
  for (const Field& f : fields()) {
    std::string pointer = "/";
    for (char ch : std::string(f.path)) pointer += ch == '.' ? '/' : ch;
    std::visit([&](auto* p) { root[nlohmann::json::json_pointer(pointer)] = *p; }, f.ref(copy));
  }
  if (!cfg.streams.empty()) root["streams"] = streams_to_json(cfg.streams);
  return root.dump(2);
}

}  // namespace um::gateway
