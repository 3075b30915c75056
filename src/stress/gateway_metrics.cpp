// Reading the gateway's dashboard metrics (gateway_metrics.h).
#include "stress/gateway_metrics.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace um::stress {
namespace {

using nlohmann::json;

std::optional<double> number_at(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

uint64_t count_at(const json& j, const char* key) {
  const std::optional<double> v = number_at(j, key);
  return v && *v > 0 ? static_cast<uint64_t>(*v) : 0;
}

}  // namespace

DropClass classify_drop(const std::string& /*stage*/, const std::string& reason) {
  // By reason: a multi-stream gateway may name its stages per stream, the reasons stay.
  if (reason == "superseded" || reason == "evicted_oldest" || reason == "burst_superseded" ||
      reason == "stale")
    return DropClass::kPolicy;
  if (reason.rfind("malformed_", 0) == 0) return DropClass::kMalformed;
  return DropClass::kOther;
}

const char* drop_class_name(DropClass c) {
  switch (c) {
    case DropClass::kPolicy: return "policy";
    case DropClass::kMalformed: return "malformed";
    case DropClass::kOther: return "other";
  }
  return "other";
}

uint64_t MetricsSample::drops_of(DropClass c) const {
  uint64_t n = 0;
  for (const auto& [key, count] : drops) {
    const size_t slash = key.find('/');
    const std::string stage = key.substr(0, slash);
    const std::string reason = slash == std::string::npos ? "" : key.substr(slash + 1);
    if (classify_drop(stage, reason) == c) n += count;
  }
  return n;
}

Result<MetricsSample> parse_metrics_json(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return invalid_argument("dashboard metrics: not a JSON object");
  MetricsSample s;
  s.dashboard_ok = true;
  if (j.contains("frames")) {
    s.frames_received = count_at(j["frames"], "received");
    s.frames_sent = count_at(j["frames"], "sent");
  }
  if (j.contains("fps")) s.fps_out = number_at(j["fps"], "out").value_or(0.0);
  if (j.contains("drops") && j["drops"].is_object() && j["drops"].contains("by") &&
      j["drops"]["by"].is_array()) {
    for (const json& d : j["drops"]["by"]) {
      if (!d.is_object()) continue;
      std::string key = d.value("stage", std::string()) + "/" + d.value("reason", std::string());
      // A multi-stream gateway may label drops per stream: keep them apart.
      if (d.contains("stream") && d["stream"].is_string())
        key = d["stream"].get<std::string>() + ":" + key;
      s.drops[key] += count_at(d, "count");
    }
  }
  if (j.contains("process") && j["process"].is_object() &&
      j["process"].value("available", false)) {
    s.rss_bytes = number_at(j["process"], "rss_bytes");
    s.cpu_percent = number_at(j["process"], "cpu_percent");
  }
  if (j.contains("gpu") && j["gpu"].is_object()) {
    const json& g = j["gpu"];
    if (g.value("available", false) && g.contains("devices") && g["devices"].is_array() &&
        !g["devices"].empty()) {
      double used = 0;
      for (const json& d : g["devices"]) used += number_at(d, "memory_used_bytes").value_or(0.0);
      s.gpu_used_bytes = used;
    } else {
      s.gpu_reason = g.value("reason", std::string("unavailable"));
    }
  }
  if (j.contains("health") && j["health"].is_object())
    s.health = j["health"].value("status", std::string());
  return s;
}

struct MetricsClient::Impl {
  explicit Impl(int port) : http("127.0.0.1", port) {
    http.set_connection_timeout(2, 0);
    http.set_read_timeout(2, 0);
    http.set_keep_alive(true);
  }
  httplib::Client http;
};

MetricsClient::MetricsClient(int port) : impl_(std::make_unique<Impl>(port)) {}
MetricsClient::~MetricsClient() = default;

Result<MetricsSample> MetricsClient::fetch() {
  httplib::Result r = impl_->http.Get("/api/v1/metrics");
  if (!r) return unavailable("dashboard: " + httplib::to_string(r.error()));
  if (r->status != 200)
    return unavailable("dashboard: HTTP " + std::to_string(r->status) + " for /api/v1/metrics");
  return parse_metrics_json(r->body);
}

}  // namespace um::stress
