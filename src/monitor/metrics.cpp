// File: src/monitor/metrics.cpp
// Purpose: the registry and the latency histogram (see metrics.h for the precision contract).
#include "monitor/metrics.h"

#include <algorithm>
#include <cmath>

#include "core/clock.h"
#include "core/status.h"

namespace um::monitor {

const char* metric_type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

bool is_valid_metric_name(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool is_valid_label_name(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;  // "__" is reserved
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// LatencyHistogram

void LatencyHistogram::record_ns(int64_t duration_ns, int64_t now_ns) {
  const int64_t d = duration_ns < 0 ? 0 : duration_ns;
  // upper_bound: first bound strictly greater than d; Prometheus buckets are "le" (<=), so a
  // sample equal to a bound belongs to that bound's bucket -> lower_bound.
  const auto it = std::lower_bound(kLatencyBucketBoundsNs.begin(), kLatencyBucketBoundsNs.end(), d);
  buckets_[static_cast<size_t>(it - kLatencyBucketBoundsNs.begin())].fetch_add(
      1, std::memory_order_relaxed);
  sum_ns_.fetch_add(d, std::memory_order_relaxed);
  int64_t prev = max_ns_.load(std::memory_order_relaxed);
  while (d > prev && !max_ns_.compare_exchange_weak(prev, d, std::memory_order_relaxed)) {
  }
  const uint64_t idx = head_.fetch_add(1, std::memory_order_relaxed) & (kRecentSamples - 1);
  ring_[idx].value_ns.store(d, std::memory_order_relaxed);
  // Release: a reader that acquires at_ns sees the value written before it (same writer).
  ring_[idx].at_ns.store(now_ns <= 0 ? 1 : now_ns, std::memory_order_release);
}

void LatencyHistogram::record_ns(int64_t duration_ns) { record_ns(duration_ns, monotonic_ns()); }

HistogramTotals LatencyHistogram::totals() const {
  HistogramTotals t;
  t.bucket_counts.resize(buckets_.size());
  for (size_t i = 0; i < buckets_.size(); ++i) {
    t.bucket_counts[i] = buckets_[i].load(std::memory_order_relaxed);
    t.count += t.bucket_counts[i];
  }
  t.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  t.max_ns = max_ns_.load(std::memory_order_relaxed);
  return t;
}

int64_t HistogramTotals::bucket_quantile_ns(double q) const {
  if (count == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count)));
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_counts.size(); ++i) {
    seen += bucket_counts[i];
    if (seen >= rank) {
      if (i < kLatencyBucketBoundsNs.size()) return std::min(kLatencyBucketBoundsNs[i], max_ns);
      return max_ns;
    }
  }
  return max_ns;
}

WindowStats LatencyHistogram::window(int64_t now_ns, int64_t window_ns) const {
  std::vector<int64_t> values;
  values.reserve(kRecentSamples);
  const bool saturated = collect_window(now_ns, window_ns, &values);
  return stats_of(values, saturated);
}

WindowStats LatencyHistogram::merged_window(const std::vector<const LatencyHistogram*>& hs,
                                            int64_t now_ns, int64_t window_ns) {
  std::vector<int64_t> values;
  bool saturated = false;
  for (const LatencyHistogram* h : hs) saturated |= h->collect_window(now_ns, window_ns, &values);
  return stats_of(values, saturated);
}

HistogramTotals LatencyHistogram::merged_totals(const std::vector<const LatencyHistogram*>& hs) {
  HistogramTotals t;
  t.bucket_counts.assign(kLatencyBucketBoundsNs.size() + 1, 0);
  for (const LatencyHistogram* h : hs) {
    const HistogramTotals one = h->totals();
    for (size_t i = 0; i < t.bucket_counts.size(); ++i) t.bucket_counts[i] += one.bucket_counts[i];
    t.count += one.count;
    t.sum_ns += one.sum_ns;
    t.max_ns = std::max(t.max_ns, one.max_ns);
  }
  return t;
}

bool LatencyHistogram::collect_window(int64_t now_ns, int64_t window_ns,
                                      std::vector<int64_t>* values) const {
  const int64_t from = now_ns - window_ns;
  int64_t oldest_in_ring = INT64_MAX;
  size_t filled = 0;
  for (const Slot& s : ring_) {
    const int64_t at = s.at_ns.load(std::memory_order_acquire);
    if (at == 0) continue;
    ++filled;
    oldest_in_ring = std::min(oldest_in_ring, at);
    if (at > from && at <= now_ns) values->push_back(s.value_ns.load(std::memory_order_relaxed));
  }
  // Saturated: the ring is full and even its oldest sample is inside the window, so older
  // in-window samples were overwritten.
  return filled == kRecentSamples && oldest_in_ring > from;
}

WindowStats LatencyHistogram::stats_of(std::vector<int64_t>& values, bool saturated) {
  WindowStats w;
  w.saturated = saturated;
  w.count = values.size();
  if (values.empty()) return w;
  std::sort(values.begin(), values.end());
  // Nearest-rank percentile: the smallest value with at least q*n samples <= it.
  auto pick = [&](double q) {
    const size_t n = values.size();
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::clamp<size_t>(rank, 1, n);
    return values[rank - 1];
  };
  w.p50_ns = pick(0.50);
  w.p95_ns = pick(0.95);
  w.p99_ns = pick(0.99);
  w.min_ns = values.front();
  w.max_ns = values.back();
  long double sum = 0;
  for (int64_t v : values) sum += v;
  w.mean_ns = static_cast<double>(sum / values.size());
  return w;
}

// ---------------------------------------------------------------------------------------------
// Registry

namespace {
Labels sorted_labels(const Labels& labels) {
  Labels l = labels;
  std::sort(l.begin(), l.end());
  for (size_t i = 0; i < l.size(); ++i) {
    if (!is_valid_label_name(l[i].first)) {
      throw Error(StatusCode::kInvalidArgument, "metrics: invalid label name '" + l[i].first + "'");
    }
    if (i > 0 && l[i].first == l[i - 1].first) {
      throw Error(StatusCode::kInvalidArgument, "metrics: duplicate label '" + l[i].first + "'");
    }
  }
  return l;
}
}  // namespace

Registry::Series& Registry::get_or_create(const std::string& name, const std::string& help,
                                          MetricType type, bool is_callback,
                                          const Labels& labels) {
  if (!is_valid_metric_name(name)) {
    throw Error(StatusCode::kInvalidArgument, "metrics: invalid metric name '" + name + "'");
  }
  Labels key = sorted_labels(labels);
  if (type == MetricType::kHistogram) {
    for (const auto& [k, v] : key) {
      if (k == "le") throw Error(StatusCode::kInvalidArgument, "metrics: 'le' is reserved");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  Family* fam = nullptr;
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    fam = it->second;
    if (fam->type != type || fam->is_callback != is_callback) {
      throw Error(StatusCode::kInvalidArgument,
                  "metrics: '" + name + "' already registered as another kind");
    }
  } else {
    families_.push_back(std::make_unique<Family>());
    fam = families_.back().get();
    fam->name = name;
    fam->help = help;
    fam->type = type;
    fam->is_callback = is_callback;
    by_name_[name] = fam;
  }
  if (auto it = fam->by_labels.find(key); it != fam->by_labels.end()) return *it->second;
  auto s = std::make_unique<Series>();
  s->labels = key;
  if (!is_callback) {
    switch (type) {
      case MetricType::kCounter: s->counter = std::make_unique<Counter>(); break;
      case MetricType::kGauge: s->gauge = std::make_unique<Gauge>(); break;
      case MetricType::kHistogram: s->histogram = std::make_unique<LatencyHistogram>(); break;
    }
  }
  Series* raw = s.get();
  fam->series.push_back(std::move(s));
  fam->by_labels[key] = raw;
  return *raw;
}

Counter& Registry::counter(const std::string& name, const std::string& help,
                           const Labels& labels) {
  return *get_or_create(name, help, MetricType::kCounter, false, labels).counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  return *get_or_create(name, help, MetricType::kGauge, false, labels).gauge;
}

LatencyHistogram& Registry::histogram(const std::string& name, const std::string& help,
                                      const Labels& labels) {
  return *get_or_create(name, help, MetricType::kHistogram, false, labels).histogram;
}

void Registry::callback(const std::string& name, const std::string& help, MetricType type,
                        const Labels& labels, std::function<std::optional<double>()> fn) {
  if (type == MetricType::kHistogram) {
    throw Error(StatusCode::kInvalidArgument, "metrics: callback histograms are not supported");
  }
  Series& s = get_or_create(name, help, type, true, labels);
  std::lock_guard<std::mutex> lock(mu_);
  s.fn = std::move(fn);
}

std::vector<FamilySnapshot> Registry::collect(int64_t now_ns, int64_t window_ns,
                                              const std::string& only) const {
  // Copy the structure under the lock, call callbacks and read atomics outside it so a slow
  // callback (NVML) never blocks registration.
  struct Item {
    const Series* series;
    std::function<std::optional<double>()> fn;
  };
  std::vector<std::pair<FamilySnapshot, std::vector<Item>>> work;
  {
    std::lock_guard<std::mutex> lock(mu_);
    work.reserve(families_.size());
    for (const auto& f : families_) {
      if (!only.empty() && f->name != only) continue;
      FamilySnapshot fs;
      fs.name = f->name;
      fs.help = f->help;
      fs.type = f->type;
      std::vector<Item> items;
      for (const auto& s : f->series) items.push_back({s.get(), s->fn});
      work.emplace_back(std::move(fs), std::move(items));
    }
  }
  std::vector<FamilySnapshot> out;
  out.reserve(work.size());
  for (auto& [fs, items] : work) {
    for (const Item& it : items) {
      SeriesSnapshot ss;
      ss.labels = it.series->labels;
      if (it.fn) {
        std::optional<double> v = it.fn();
        if (!v || !std::isfinite(*v)) continue;  // unavailable: omit, never invent
        ss.value = *v;
      } else if (it.series->counter) {
        ss.value = static_cast<double>(it.series->counter->value());
      } else if (it.series->gauge) {
        ss.value = it.series->gauge->value();
      } else if (it.series->histogram) {
        ss.totals = it.series->histogram->totals();
        ss.window = it.series->histogram->window(now_ns, window_ns);
      } else {
        continue;  // a callback series whose function has not been set
      }
      fs.series.push_back(std::move(ss));
    }
    out.push_back(std::move(fs));
  }
  return out;
}

double Registry::sum(const std::string& name) const {
  double total = 0;
  for (const FamilySnapshot& f : collect(0, 0, name)) {
    for (const SeriesSnapshot& s : f.series) total += s.value;
  }
  return total;
}

const Registry::Series* Registry::find(const std::string& name, const Labels& labels) const {
  Labels key = labels;
  std::sort(key.begin(), key.end());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return nullptr;
  auto jt = it->second->by_labels.find(key);
  return jt == it->second->by_labels.end() ? nullptr : jt->second;
}

const Counter* Registry::find_counter(const std::string& name, const Labels& labels) const {
  const Series* s = find(name, labels);
  return s ? s->counter.get() : nullptr;
}
const Gauge* Registry::find_gauge(const std::string& name, const Labels& labels) const {
  const Series* s = find(name, labels);
  return s ? s->gauge.get() : nullptr;
}
const LatencyHistogram* Registry::find_histogram(const std::string& name,
                                                 const Labels& labels) const {
  const Series* s = find(name, labels);
  return s ? s->histogram.get() : nullptr;
}

}  // namespace um::monitor
