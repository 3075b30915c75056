// File: src/monitor/system_stats.cpp
// Purpose: /proc/self readers and the run-time NVML binding (see system_stats.h).
//
// Why the NVML declarations are written here instead of including <nvml.h>: the header ships
// with the CUDA toolkit, which CPU-only builds do not have, and we only call seven functions
// through dlsym. The signatures and the two structs below are NVML's stable C ABI
// (nvml.h: nvmlUtilization_t, nvmlMemory_t; *_v2 entry points, present since driver 3xx).
#include "monitor/system_stats.h"

#include <dlfcn.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace um::monitor {

// --------------------------------------------------------------------------------------------
// Process

namespace {

// /proc/self/stat: fields after the ")" that closes the command name; utime and stime are
// fields 14 and 15 (1-based), num_threads is 20.
bool read_proc_stat(double* cpu_seconds, int* threads) {
  std::ifstream f("/proc/self/stat");
  std::string line;
  if (!f || !std::getline(f, line)) return false;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  // After ")" the next field is #3 (state).
  unsigned long long utime = 0, stime = 0;
  long long nthreads = 0;
  for (int i = 3; i <= 20 && (rest >> field); ++i) {
    try {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
      if (i == 20) nthreads = std::stoll(field);
    } catch (const std::exception&) {
      return false;
    }
  }
  const long ticks = sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return false;
  *cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks);
  *threads = static_cast<int>(nthreads);
  return true;
}

// /proc/self/statm field 2: resident pages.
bool read_rss(int64_t* rss_bytes) {
  std::ifstream f("/proc/self/statm");
  long long size = 0, resident = 0;
  if (!(f >> size >> resident)) return false;
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return false;
  *rss_bytes = resident * page;
  return true;
}

}  // namespace

ProcessStats ProcessSampler::sample(int64_t now_ns) {
  ProcessStats s;
  if (!read_proc_stat(&s.cpu_seconds, &s.threads) || !read_rss(&s.rss_bytes)) return s;
  s.available = true;
  if (last_ns_ != 0 && now_ns > last_ns_) {
    const double wall_s = static_cast<double>(now_ns - last_ns_) * 1e-9;
    s.cpu_percent = 100.0 * (s.cpu_seconds - last_cpu_s_) / wall_s;
    s.cpu_percent_valid = true;
  }
  last_ns_ = now_ns;
  last_cpu_s_ = s.cpu_seconds;
  return s;
}

// --------------------------------------------------------------------------------------------
// NVML

namespace {
using nvmlReturn_t = int;  // NVML_SUCCESS == 0
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
}  // namespace

struct GpuSampler::Api {
  void* lib = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*util)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;

  std::string err(const char* what, nvmlReturn_t rc) const {
    std::string msg = std::string(what) + " failed (NVML error " + std::to_string(rc);
    if (error_string) msg += std::string(": ") + error_string(rc);
    return msg + ")";
  }
};

std::unique_ptr<GpuSampler> GpuSampler::disabled(std::string reason) {
  std::unique_ptr<GpuSampler> s(new GpuSampler());
  s->reason_ = std::move(reason);
  return s;
}

std::unique_ptr<GpuSampler> GpuSampler::open(int only_index) {
  std::unique_ptr<GpuSampler> s(new GpuSampler());
  s->only_index_ = only_index;
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    s->reason_ = std::string("libnvidia-ml.so.1 not loadable: ") + (e ? e : "unknown error");
    return s;
  }
  auto api = std::make_unique<Api>();
  api->lib = lib;
  auto sym = [&](const char* n) { return dlsym(lib, n); };
  api->init = reinterpret_cast<decltype(api->init)>(sym("nvmlInit_v2"));
  api->shutdown = reinterpret_cast<decltype(api->shutdown)>(sym("nvmlShutdown"));
  api->count = reinterpret_cast<decltype(api->count)>(sym("nvmlDeviceGetCount_v2"));
  api->handle = reinterpret_cast<decltype(api->handle)>(sym("nvmlDeviceGetHandleByIndex_v2"));
  api->name = reinterpret_cast<decltype(api->name)>(sym("nvmlDeviceGetName"));
  api->util = reinterpret_cast<decltype(api->util)>(sym("nvmlDeviceGetUtilizationRates"));
  api->memory = reinterpret_cast<decltype(api->memory)>(sym("nvmlDeviceGetMemoryInfo"));
  api->error_string = reinterpret_cast<decltype(api->error_string)>(sym("nvmlErrorString"));
  if (!api->init || !api->shutdown || !api->count || !api->handle || !api->name || !api->util ||
      !api->memory) {
    s->reason_ = "libnvidia-ml.so.1 lacks the NVML entry points used";
    dlclose(lib);
    return s;
  }
  if (nvmlReturn_t rc = api->init(); rc != 0) {
    s->reason_ = api->err("nvmlInit_v2", rc);
    dlclose(lib);
    return s;
  }
  s->api_ = std::move(api);
  return s;
}

GpuSampler::~GpuSampler() {
  if (api_) {
    api_->shutdown();
    dlclose(api_->lib);
  }
}

GpuStats GpuSampler::sample() {
  GpuStats g;
  if (!api_) {
    g.reason = reason_;
    return g;
  }
  unsigned int n = 0;
  if (nvmlReturn_t rc = api_->count(&n); rc != 0) {
    g.reason = api_->err("nvmlDeviceGetCount_v2", rc);
    return g;
  }
  if (n == 0) {
    g.reason = "NVML reports no GPU";
    return g;
  }
  unsigned int first = 0;
  if (only_index_ >= 0) {
    if (static_cast<unsigned int>(only_index_) >= n) {
      g.reason = "GPU " + std::to_string(only_index_) + " asked for (--gpu), NVML reports " +
                 std::to_string(n) + " GPU(s)";
      return g;
    }
    first = static_cast<unsigned int>(only_index_);
    n = first + 1;
  }
  for (unsigned int i = first; i < n; ++i) {
    nvmlDevice_t dev = nullptr;
    if (nvmlReturn_t rc = api_->handle(i, &dev); rc != 0) {
      g.reason = api_->err("nvmlDeviceGetHandleByIndex_v2", rc);
      return g;
    }
    GpuDevice d;
    d.index = static_cast<int>(i);
    char name[96] = {};
    if (api_->name(dev, name, sizeof(name)) == 0) d.name = name;
    nvmlUtilization_t u{};
    if (nvmlReturn_t rc = api_->util(dev, &u); rc != 0) {
      g.reason = api_->err("nvmlDeviceGetUtilizationRates", rc);
      return g;
    }
    nvmlMemory_t m{};
    if (nvmlReturn_t rc = api_->memory(dev, &m); rc != 0) {
      g.reason = api_->err("nvmlDeviceGetMemoryInfo", rc);
      return g;
    }
    d.utilization_pct = u.gpu;
    d.memory_used_bytes = static_cast<int64_t>(m.used);
    d.memory_total_bytes = static_cast<int64_t>(m.total);
    g.devices.push_back(std::move(d));
  }
  g.available = true;
  return g;
}

}  // namespace um::monitor
