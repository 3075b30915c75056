// File: src/monitor/system_stats.h
// Purpose: measured process and GPU figures for the monitor.
//   ProcessSampler: CPU time and resident memory of this process from /proc/self (Linux);
//     CPU percent is the CPU-time delta over the wall-time delta between two samples
//     (100 = one core busy).
//   GpuSampler: utilisation and memory through NVML, loaded at run time with
//     dlopen("libnvidia-ml.so.1") so CPU-only builds and machines work. When the library, the
//     driver or a device is absent, GpuStats::available is false and `reason` says why: the
//     monitor reports "unavailable", never a made-up figure.
// Usage:
//   ProcessSampler ps;  ProcessStats p = ps.sample(um::monotonic_ns());
//   auto gpu = GpuSampler::open();  GpuStats g = gpu->sample();
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace um::monitor {

struct ProcessStats {
  bool available = false;   // false when /proc/self could not be read
  double cpu_seconds = 0;   // user + system since start
  double cpu_percent = 0;   // over the interval since the previous sample (0 on the first)
  bool cpu_percent_valid = false;
  int64_t rss_bytes = 0;
  int threads = 0;
};

class ProcessSampler {
 public:
  ProcessStats sample(int64_t now_ns);

 private:
  int64_t last_ns_ = 0;
  double last_cpu_s_ = 0;
};

struct GpuDevice {
  int index = 0;
  std::string name;
  double utilization_pct = 0;   // nvmlDeviceGetUtilizationRates().gpu (last sample period)
  int64_t memory_used_bytes = 0;
  int64_t memory_total_bytes = 0;
};

struct GpuStats {
  bool available = false;
  std::string reason;  // why unavailable ("libnvidia-ml.so.1 not found: ..."), empty if available
  std::vector<GpuDevice> devices;
};

class GpuSampler {
 public:
  // Never fails: an unavailable NVML gives a sampler whose samples say so. only_index >= 0:
  // sample just that device, by NVML's (physical, PCI bus order) index: a gateway started with
  // --gpu N sets CUDA_VISIBLE_DEVICES=N and CUDA_DEVICE_ORDER=PCI_BUS_ID, which NVML ignores, so
  // the physical index is what names its GPU here.
  static std::unique_ptr<GpuSampler> open(int only_index = -1);
  // A sampler that reports unavailable with `reason` (monitor option probe_gpu = false).
  static std::unique_ptr<GpuSampler> disabled(std::string reason);
  ~GpuSampler();
  GpuSampler(const GpuSampler&) = delete;
  GpuSampler& operator=(const GpuSampler&) = delete;

  GpuStats sample();

 private:
  GpuSampler() = default;
  struct Api;
  std::unique_ptr<Api> api_;  // null when unavailable
  std::string reason_;
  int only_index_ = -1;
};

}  // namespace um::monitor
