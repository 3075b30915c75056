// One stress run against a fresh gateway child process (stress_run.h).
#include "stress/stress_run.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "gateway/plus_simulator.h"
#include "stress/gateway_process.h"
#include "stress/slicer_receiver.h"

namespace um::stress {
namespace {

namespace fs = std::filesystem;

constexpr int kTickMs = 20;
constexpr int kPeerPauseMs = 1000;      // a restarted simulator / receiver stays away this long
constexpr double kProgressEveryS = 10.0;
constexpr double kStopTimeoutS = 30.0;  // orderly gateway shutdown after SIGINT
constexpr double kNever = 1e300;

double seconds_since(int64_t mono0) { return static_cast<double>(monotonic_ns() - mono0) * 1e-9; }

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> w;
  for (std::string x; is >> x;) w.push_back(x);
  return w;
}

Result<std::string> log_folder(const StressOptions& o) {
  std::error_code ec;
  if (!o.log_dir.empty()) {
    fs::create_directories(o.log_dir, ec);
    if (ec) return unavailable("--log-dir '" + o.log_dir + "': " + ec.message());
    return o.log_dir;
  }
  const fs::path dir = fs::temp_directory_path(ec) /
                       ("ultramotion_stress_" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  if (ec) return unavailable("cannot create '" + dir.string() + "': " + ec.message());
  return dir.string();
}

gateway::PlusSimulatorOptions simulator_options(const StressOptions& o, size_t index, int port) {
  gateway::PlusSimulatorOptions so;
  so.host = "127.0.0.1";
  so.port = static_cast<uint16_t>(port);
  so.source = o.source;
  so.source_options.size = o.frame_size;
  so.source_options.seed = index + 1;  // streams do not show the same images in lockstep
  so.fps = simulator_fps(o);
  so.burst_probability = o.burst_probability;
  so.seed = index + 1;
  // Phantom rendering must not limit high rates: cycle through preloaded frames instead.
  so.preload_frames = (o.fps.max || so.fps > 60.0) ? 32 : 0;
  return so;
}

// Everything one run holds; torn down in reverse order by the destructor.
class Run {
 public:
  Run(const StressOptions& o, int n) : o_(o), n_(n) {
    result_.n_streams = n;
    result_.simulator_fps = simulator_fps(o);
    result_.max_rate = o.fps.max;
  }
  ~Run() {
    if (gateway_) gateway_->stop(kStopTimeoutS);
    for (auto& r : receivers_) r->stop();
    for (auto& s : sims_)
      if (s) s->stop();
  }

  Result<RunResult> execute();

 private:
  Status set_up();
  bool wait_until_serving();
  void poll(double t);
  void manage_faults(double t, double measured_end);
  bool first_labelmap_everywhere() const;
  bool faults_owed() const {  // --min-faults not reached yet
    return o_.faults && result_.faults.size() < static_cast<size_t>(o_.min_faults);
  }
  void inject(double t);
  void finish_fault(double t, bool recovered);
  Status restart_simulator(size_t i);
  uint64_t frames_sent(size_t i) const;
  void progress(double t);
  void collect(int64_t measure_from_wall, int64_t measure_to_wall);

  const StressOptions& o_;
  const int n_;
  RunResult result_;
  std::vector<std::unique_ptr<gateway::PlusSimulator>> sims_;
  std::vector<uint64_t> sent_before_restarts_;
  std::vector<uint64_t> sent_at_warmup_end_;
  std::vector<uint64_t> sent_at_measured_end_;
  std::vector<std::unique_ptr<SlicerReceiver>> receivers_;
  std::unique_ptr<GatewayProcess> gateway_;
  std::unique_ptr<MetricsClient> metrics_;
  int64_t t0_mono_ = 0;
  int64_t t0_wall_ = 0;
  std::optional<MetricsSample> last_ok_sample_;

  struct Pending {
    FaultRecord record;
    int64_t injected_wall_ns = 0;
    double deadline_t = 0.0;
    double restart_at_t = -1.0;  // simulator_restart: when to start it again
    std::map<std::string, uint64_t> drops_before;
  };
  std::optional<Pending> pending_;
  double next_fault_t_ = kNever;
  double warmup_end_t_ = kNever;
  size_t fault_index_ = 0;
};

Status Run::set_up() {
  UM_ASSIGN_OR_RETURN(std::string dir, log_folder(o_));
  std::vector<StreamEndpoints> endpoints(static_cast<size_t>(n_));
  for (size_t i = 0; i < endpoints.size(); ++i) {
    auto sim = std::make_unique<gateway::PlusSimulator>(simulator_options(o_, i, 0));
    UM_RETURN_IF_ERROR_CTX(sim->start(), "PLUS simulator " + std::to_string(i + 1));
    endpoints[i].name = stream_name(i);
    endpoints[i].plus_port = sim->port();
    sims_.push_back(std::move(sim));
  }
  sent_before_restarts_.assign(endpoints.size(), 0);
  sent_at_warmup_end_.assign(endpoints.size(), 0);
  sent_at_measured_end_.assign(endpoints.size(), 0);
  UM_ASSIGN_OR_RETURN(std::vector<int> ports, pick_free_ports(endpoints.size() + 1));
  for (size_t i = 0; i < endpoints.size(); ++i) endpoints[i].slicer_port = ports[i];
  const int dashboard_port = ports.back();

  const std::string tag = "gateway_N" + std::to_string(n_);
  result_.config_path = (fs::path(dir) / (tag + ".yaml")).string();
  result_.gateway_log = (fs::path(dir) / (tag + ".log")).string();
  {
    std::ofstream f(result_.config_path);
    f << gateway_config_yaml(o_, endpoints, dashboard_port);
    if (!f) return unavailable("cannot write '" + result_.config_path + "'");
  }
  std::vector<std::string> argv;
  if (o_.gateway_cmd.empty()) {
    UM_ASSIGN_OR_RETURN(std::string exe, self_executable());
    argv.push_back(exe);
  } else {
    argv = split_words(o_.gateway_cmd);
  }
  for (const std::string& a : {std::string("run"), std::string("--config"), result_.config_path})
    argv.push_back(a);
  for (const std::string& kv : o_.gateway_set) {
    argv.push_back("--set");
    argv.push_back(kv);
  }
  for (const std::string& a : argv) result_.gateway_command += (result_.gateway_command.empty() ? "" : " ") + a;
  UM_ASSIGN_OR_RETURN(gateway_, GatewayProcess::spawn(argv, result_.gateway_log));
  metrics_ = std::make_unique<MetricsClient>(dashboard_port);
  for (const StreamEndpoints& e : endpoints) {
    StreamResult sr;
    sr.name = e.name;
    sr.plus_port = e.plus_port;
    sr.slicer_port = e.slicer_port;
    result_.streams.push_back(sr);
    receivers_.push_back(std::make_unique<SlicerReceiver>("127.0.0.1", e.slicer_port, "BoneMask"));
    receivers_.back()->start();
  }
  return Status::Ok();
}

// Waits until every receiver is connected (models loaded, gateway serving).
bool Run::wait_until_serving() {
  const int64_t spawned = monotonic_ns();
  while (seconds_since(spawned) < o_.start_timeout_s) {
    if (!gateway_->alive()) {
      result_.start_failure = "the gateway exited with code " +
                              std::to_string(gateway_->exit_code()) + " during start-up";
      return false;
    }
    bool all = true;
    for (const auto& r : receivers_) all = all && r->counters().connected;
    if (all) {
      result_.startup_s = seconds_since(spawned);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
  }
  result_.start_failure = "the gateway did not serve every Slicer port within " +
                          std::to_string(o_.start_timeout_s) + " s (--start-timeout)";
  return false;
}

uint64_t Run::frames_sent(size_t i) const {
  return sent_before_restarts_[i] + (sims_[i] ? sims_[i]->counters().frames_sent : 0);
}

void Run::poll(double t) {
  Result<MetricsSample> got = metrics_->fetch();
  MetricsSample s = got.ok() ? got.value() : MetricsSample{};
  s.t_s = t;
  s.gateway_alive = gateway_->alive();
  for (const auto& r : receivers_) s.labelmaps += r->counters().labelmaps;
  if (s.dashboard_ok) last_ok_sample_ = s;
  result_.series.push_back(std::move(s));
}

Status Run::restart_simulator(size_t i) {
  auto sim = std::make_unique<gateway::PlusSimulator>(
      simulator_options(o_, i, result_.streams[i].plus_port));
  UM_RETURN_IF_ERROR(sim->start());
  sims_[i] = std::move(sim);
  ++result_.streams[i].simulator_restarts;
  return Status::Ok();
}

void Run::inject(double t) {
  Pending p;
  p.record.t_s = t;
  p.record.kind = fault_in_rotation(fault_index_);
  p.record.stream = static_cast<int>(fault_index_ % static_cast<size_t>(n_));
  ++fault_index_;
  const size_t i = static_cast<size_t>(p.record.stream);
  if (last_ok_sample_) p.drops_before = last_ok_sample_->drops;
  p.injected_wall_ns = wall_clock_ns();
  p.deadline_t = t + o_.fault_timeout_s;
  switch (p.record.kind) {
    case FaultKind::kSimulatorRestart:
      sent_before_restarts_[i] += sims_[i]->counters().frames_sent;
      sims_[i]->stop();
      sims_[i].reset();
      p.restart_at_t = t + kPeerPauseMs * 1e-3;
      break;
    case FaultKind::kReceiverReconnect:
      receivers_[i]->disconnect(kPeerPauseMs);
      break;
    default:
      sims_[i]->inject_raw(malformed_bytes(p.record.kind, "Image_Reference"));
      break;
  }
  if (!o_.quiet)
    std::fprintf(stderr, "[stress N=%d] t=%.1fs fault %s on %s\n", n_, t,
                 fault_kind_name(p.record.kind), result_.streams[i].name.c_str());
  pending_ = std::move(p);
}

void Run::finish_fault(double t, bool recovered) {
  Pending& p = *pending_;
  const size_t i = static_cast<size_t>(p.record.stream);
  if (!sims_[i]) {  // never left without its simulator, whatever happened
    Status s = restart_simulator(i);
    if (!s.ok()) std::fprintf(stderr, "[stress] simulator restart failed: %s\n", s.to_string().c_str());
  }
  p.record.recovered = recovered;
  if (recovered) {
    const ReceiverCounters c = receivers_[i]->counters();
    p.record.recovery_s = static_cast<double>(c.last_labelmap_wall_ns - p.injected_wall_ns) * 1e-9;
  }
  poll(t);  // the drops this fault caused (the gateway syncs its counters on every TX wake)
  if (last_ok_sample_) {
    for (const auto& [key, count] : last_ok_sample_->drops) {
      auto before = p.drops_before.find(key);
      const uint64_t b = before == p.drops_before.end() ? 0 : before->second;
      if (count > b) p.record.new_drops[key] = count - b;
    }
  }
  if (!o_.quiet)
    std::fprintf(stderr, "[stress N=%d] t=%.1fs fault %s %s%s\n", n_, t,
                 fault_kind_name(p.record.kind), recovered ? "recovered after " : "NOT recovered",
                 recovered ? (std::to_string(p.record.recovery_s).substr(0, 5) + " s").c_str() : "");
  result_.faults.push_back(p.record);
  pending_.reset();
  next_fault_t_ = t + fault_interval(o_);
}

bool Run::first_labelmap_everywhere() const {
  for (const auto& r : receivers_)
    if (r->counters().labelmaps == 0) return false;
  return true;
}

void Run::manage_faults(double t, double measured_end) {
  if (!pending_) {
    if (t >= next_fault_t_ && t < measured_end) inject(t);
    return;
  }
  Pending& p = *pending_;
  const size_t i = static_cast<size_t>(p.record.stream);
  if (p.restart_at_t >= 0 && t >= p.restart_at_t) {
    Status s = restart_simulator(i);
    if (s.ok()) {
      p.restart_at_t = -1.0;
    } else {
      p.restart_at_t = t + 0.5;  // the port may linger a moment: try again
      if (!o_.quiet) std::fprintf(stderr, "[stress] restart: %s\n", s.to_string().c_str());
    }
  }
  if (p.restart_at_t < 0 && receivers_[i]->counters().last_source_ns > p.injected_wall_ns) {
    finish_fault(t, true);
  } else if (t > p.deadline_t) {
    finish_fault(t, false);
  }
}

void Run::progress(double t) {
  if (o_.quiet) return;
  uint64_t labelmaps = 0;
  for (const auto& r : receivers_) labelmaps += r->counters().labelmaps;
  std::string mem = "n/a";
  if (last_ok_sample_ && last_ok_sample_->rss_bytes)
    mem = std::to_string(static_cast<int>(*last_ok_sample_->rss_bytes / (1 << 20))) + " MiB";
  const uint64_t other = last_ok_sample_ ? last_ok_sample_->drops_of(DropClass::kOther) : 0;
  const uint64_t policy = last_ok_sample_ ? last_ok_sample_->drops_of(DropClass::kPolicy) : 0;
  std::fprintf(stderr,
               "[stress N=%d] t=%.0fs %s labelmaps=%llu RSS=%s drops policy=%llu other=%llu\n", n_,
               t, t < warmup_end_t_ ? "(warm-up)" : "", static_cast<unsigned long long>(labelmaps),
               mem.c_str(), static_cast<unsigned long long>(policy),
               static_cast<unsigned long long>(other));
}

void Run::collect(int64_t from_wall, int64_t to_wall) {
  for (size_t i = 0; i < result_.streams.size(); ++i) {
    StreamResult& sr = result_.streams[i];
    const ReceiverCounters c = receivers_[i]->counters();
    sr.latencies_ns = receivers_[i]->latencies_between(from_wall, to_wall);
    sr.labelmaps_total = c.labelmaps;
    sr.receiver_connects = c.connects;
    sr.receiver_rejected = c.rejected;
    sr.frames_sent_total = frames_sent(i);
  }
}

Result<RunResult> Run::execute() {
  UM_RETURN_IF_ERROR(set_up());
  if (!o_.quiet)
    std::fprintf(stderr, "[stress N=%d] gateway: %s (log %s)\n", n_,
                 result_.gateway_command.c_str(), result_.gateway_log.c_str());
  if (!wait_until_serving()) {
    gateway_->stop(kStopTimeoutS);
    result_.exit_code = gateway_->exit_code();
    result_.start_failure += "\n--- gateway log (tail) ---\n" + file_tail(result_.gateway_log, 3000);
    return result_;
  }
  result_.started = true;
  t0_mono_ = monotonic_ns();
  t0_wall_ = wall_clock_ns();
  double next_sample = 0.0, next_progress = kProgressEveryS;
  double measured_end = kNever;
  bool ended = false;
  auto snapshot_sent = [this](std::vector<uint64_t>& into) {
    for (size_t i = 0; i < sims_.size(); ++i) into[i] = frames_sent(i);
  };
  for (;;) {
    const double t = seconds_since(t0_mono_);
    // Warm-up: at least --warmup seconds AND until every stream has had its first labelmap
    // (the first frames pay for lazy set-up: graph capture, algorithm choice, page faults), or
    // until the start timeout says it will not come (the verdict then reports it).
    if (warmup_end_t_ == kNever && t >= o_.warmup_s &&
        (first_labelmap_everywhere() || t >= o_.warmup_s + o_.start_timeout_s)) {
      warmup_end_t_ = t;
      measured_end = t + o_.duration_s;
      next_fault_t_ = t + fault_interval(o_);
      snapshot_sent(sent_at_warmup_end_);
    }
    // --min-faults: the measured phase goes on, one tick at a time, until enough faults ended
    // (each ends by its --fault-timeout at the latest, so this is bounded).
    if (!ended && t >= measured_end && faults_owed()) measured_end = t + kTickMs * 1e-3;
    if (!ended && (t >= measured_end || !gateway_->alive())) {
      ended = true;
      snapshot_sent(sent_at_measured_end_);
    }
    if (!gateway_->alive()) {
      result_.died = true;
      result_.died_at_s = t;
      measured_end = std::min(measured_end, t);
      if (!o_.quiet)
        std::fprintf(stderr, "[stress N=%d] t=%.1fs the gateway DIED (exit %d)\n", n_, t,
                     gateway_->exit_code());
      break;
    }
    if (t >= next_sample) {
      poll(t);
      next_sample += o_.sample_interval_s;
    }
    if (o_.faults) manage_faults(t, measured_end);
    if (t >= next_progress) {
      progress(t);
      next_progress += kProgressEveryS;
    }
    if (t >= measured_end && !pending_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
  }
  // Figures over [warm-up end, measured end); frames sent by the simulators likewise.
  const double warm_t = std::min(warmup_end_t_, measured_end);
  result_.warmup_s = warm_t;
  result_.measured_s = std::max(0.0, measured_end - warm_t);
  const int64_t from_wall = t0_wall_ + static_cast<int64_t>(warm_t * 1e9);
  const int64_t to_wall = t0_wall_ + static_cast<int64_t>(measured_end * 1e9);
  if (!result_.died) poll(seconds_since(t0_mono_));
  collect(from_wall, to_wall);
  for (size_t i = 0; i < result_.streams.size(); ++i)
    result_.streams[i].frames_sent = sent_at_measured_end_[i] - sent_at_warmup_end_[i];
  result_.exit_code = result_.died ? gateway_->exit_code() : gateway_->stop(kStopTimeoutS);
  return result_;
}

}  // namespace

Result<RunResult> run_stress(const StressOptions& options, int n_streams) {
  if (n_streams < 1) return invalid_argument("stress run needs at least one stream");
  Run run(options, n_streams);
  return run.execute();
}

}  // namespace um::stress
