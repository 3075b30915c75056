// File: apps/ultramotion/cmd_bench.cpp
// Purpose: `ultramotion bench`: the speed of the CUDA frame path, measured the way the issue
// asks: per-stage and whole-frame GPU time from CUDA events inside the frame graph (median, p90,
// p99 over --iters frames after a warm-up), host wall time per frame (and its CPU part after the
// read-back: weight maps, quality scores, tracker, state), sustained frames/s, GPU
// memory (weights, the frame graph's pool, the process's device footprint) and the host
// synchronisations per frame.
//   ultramotion bench [--dfine CKPT] [--sam CKPT] [--precision fp32|fp16|both] [--size WxH]
//                     [--iters N] [--warmup N] [--fp16-backbone] [--streams 1,2,4,8]
//                     [--detect-every K] [--sequential-models] [--json FILE]
// Defaults: the phantom models, fp16, 422x558 (W x H, the reference recordings), 300 iterations.
// With --precision both, fp32 runs first in the same process, as the in-run baseline of fp16.
// Frames are a moving phantom sequence (cycled), so caches and the tracker see realistic inputs.
// Throughput (after the per-stage table, same process, same models): frames/s and per-frame
// latency (submit -> result on the host) for one stream calling process() back to back (the
// baseline), one stream pipelined (submit n+1 before completing n), and N streams on one GPU
// (N processors sharing the weights, each pipelined, driven round-robin by one thread as the
// gateway's dispatcher does). --detect-every K > 1 turns detector skipping on for every run.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "core/clock.h"
#include "core/status.h"
#include "pipeline/frame_processor.h"
#include "pipeline/model_paths.h"
#include "pipeline/phantom.h"
#include "pipeline/phantom_stream.h"
#ifdef UM_WITH_CUDA
#include <cuda_runtime_api.h>

#include "core/cuda/cuda_runtime.h"
#include "pipeline/cuda_frame_processor.h"
#endif

namespace um::cli {
namespace {

struct BenchArgs {
  std::string dfine = pipeline::kPhantomDFinePath;
  std::string sam = pipeline::kPhantomSamPath;
  std::string precision = "fp16";
  std::string size = "422x558";
  int iters = 300;
  int warmup = 20;
  bool fp16_backbone = false;
  int tf32_backbone_parts = 0;
  bool ffma_box_chain = false;
  bool sequential_models = false;
  std::string streams = "1,2,4,8";
  int detect_every = 1;
  std::string json;
};

#ifdef UM_WITH_CUDA
struct Percentiles {
  double median = 0, p90 = 0, p99 = 0;
};

Percentiles percentiles(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
    return v[i];
  };
  return {at(0.5), at(0.9), at(0.99)};
}

size_t device_used_bytes() {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return 0;
  return total_b - free_b;
}

pipeline::ProcessorOptions processor_options(const BenchArgs& a, pipeline::Precision precision) {
  pipeline::ProcessorOptions opt;
  opt.backend = pipeline::Backend::kCuda;
  opt.precision = precision;
  opt.dfine_checkpoint = pipeline::resolve_model_path(a.dfine);
  opt.sam_checkpoint = pipeline::resolve_model_path(a.sam);
  opt.dfine_fp16_backbone = a.fp16_backbone;
  opt.dfine_tf32_backbone_parts = a.tf32_backbone_parts;
  opt.dfine_split_tf32_box_chain = !a.ffma_box_chain;
  opt.overlap_models = !a.sequential_models;
  opt.config.detector_skip.every = a.detect_every;
  return opt;
}

// A continuous phantom sequence (the simulator's moving bone, 25 fps motion, some bone-free
// stretches), so the tracker and detector skipping see what a probe produces; cycled.
std::vector<pipeline::Frame> bench_frames(int width, int height) {
  pipeline::PhantomStream stream(7, {.size = pipeline::FrameSize{height, width}});
  std::vector<pipeline::Frame> frames;
  for (int i = 0; i < 150; ++i) frames.push_back(pipeline::to_frame(stream.next(), i));
  return frames;
}

nlohmann::json bench_one(const BenchArgs& a, pipeline::Precision precision, int width, int height) {
  const pipeline::ProcessorOptions opt = processor_options(a, precision);
  const size_t used_before = device_used_bytes();
  auto created = pipeline::CudaFrameProcessor::create(opt);
  throw_if_error(created.status());
  pipeline::CudaFrameProcessor& p = **created;

  const std::vector<pipeline::Frame> frames = bench_frames(width, height);
  for (int i = 0; i < a.warmup; ++i) {
    throw_if_error(p.process(frames[i % frames.size()]).status());
  }
  std::vector<double> upload, det_pre, det, sam_pre, enc, dec_image, dec, readback, gpu_total, wall,
      host_post;
  int detector_frames = 0;
  const uint64_t syncs_before = cuda::host_sync_count();
  const int64_t loop_start = monotonic_ns();
  for (int i = 0; i < a.iters; ++i) {
    const int64_t t0 = monotonic_ns();
    Result<pipeline::FrameResult> r = p.process(frames[i % frames.size()]);
    const int64_t t1 = monotonic_ns();
    throw_if_error(r.status());
    const pipeline::GpuStageTimes& g = p.gpu_stage_ms();
    upload.push_back(g.upload);
    det_pre.push_back(g.detector_pre);
    det.push_back(g.detector);
    sam_pre.push_back(g.segmenter_pre);
    enc.push_back(g.encoder);
    dec_image.push_back(g.decoder_image);
    dec.push_back(g.decoder);
    readback.push_back(g.readback);
    gpu_total.push_back(g.total);
    wall.push_back((t1 - t0) / 1e6);
    host_post.push_back((r->timings.weights_ns + r->timings.quality_ns) / 1e6);
    detector_frames += r->detector_ran ? 1 : 0;
  }
  const double loop_s = (monotonic_ns() - loop_start) / 1e9;
  const double syncs_per_frame =
      static_cast<double>(cuda::host_sync_count() - syncs_before) / a.iters;

  nlohmann::ordered_json j;
  j["device"] = cuda::describe_device(0);
  j["processor"] = p.description();
  j["precision"] = pipeline::precision_name(precision);
  j["frame"] = std::to_string(width) + "x" + std::to_string(height);
  j["iters"] = a.iters;
  j["overlap_models"] = opt.overlap_models;
  auto add = [&](const char* name, const std::vector<double>& v) {
    const Percentiles q = percentiles(v);
    j["stages_ms"][name] = {{"median", q.median}, {"p90", q.p90}, {"p99", q.p99}};
  };
  add("upload", upload);
  add("dfine_preprocess", det_pre);
  add("dfine", det);
  add("sam_preprocess", sam_pre);
  add("sam_encoder", enc);
  add("sam_decoder_image_side", dec_image);
  add("sam_prompt_decoder_mask", dec);
  add("readback", readback);
  add("gpu_frame", gpu_total);
  add("host_wall_frame", wall);
  add("host_weights_quality_state", host_post);
  j["frames_per_s"] = a.iters / loop_s;
  j["detect_every"] = a.detect_every;
  j["detector_frames"] = detector_frames;
  j["host_syncs_per_frame"] = syncs_per_frame;
  j["graph_captures"] = p.graph_captures();
  j["gpu_memory"] = {{"weights_mib", p.weight_bytes() / 1048576.0},
                     {"graph_pool_mib", p.graph_pool_bytes() / 1048576.0},
                     {"process_delta_mib", (device_used_bytes() - used_before) / 1048576.0}};
  return j;
}

// frames/s and latency of `streams` processors sharing the models, `depth` frames in flight per
// processor (1 = process() back to back), driven round-robin from this thread.
nlohmann::ordered_json bench_throughput(const BenchArgs& a, pipeline::Precision precision,
                                        int width, int height, int streams, int depth) {
  auto made = pipeline::create_frame_processors(processor_options(a, precision), streams);
  throw_if_error(made.status());
  std::vector<std::unique_ptr<pipeline::FrameProcessor>>& ps = *made;
  const std::vector<pipeline::Frame> frames = bench_frames(width, height);
  std::vector<size_t> next(ps.size(), 0);
  std::vector<double> latency;
  int detector_frames = 0;
  auto submit = [&](size_t s) {
    pipeline::Frame f = frames[(next[s] + 5 * s) % frames.size()];  // streams see other frames
    f.id = next[s]++;
    throw_if_error(ps[s]->submit(std::move(f)));
  };
  auto complete = [&](size_t s, bool measured) {
    Result<pipeline::FrameResult> r = ps[s]->complete();
    throw_if_error(r.status());
    if (measured) {
      latency.push_back((r->timings.end_ns - r->timings.start_ns) / 1e6);
      detector_frames += r->detector_ran ? 1 : 0;
    }
  };
  // Warm-up (captures every processor's graphs), then the measured rounds.
  for (size_t s = 0; s < ps.size(); ++s) {
    for (int i = 0; i < a.warmup; ++i) {
      submit(s);
      complete(s, false);
    }
  }
  const int rounds = std::max(1, a.iters / streams);
  const int64_t start = monotonic_ns();
  for (int i = 0; i < rounds; ++i) {
    for (size_t s = 0; s < ps.size(); ++s) {
      if (ps[s]->in_flight() >= depth) complete(s, true);
      submit(s);
    }
  }
  for (size_t s = 0; s < ps.size(); ++s) {
    while (ps[s]->in_flight() > 0) complete(s, true);
  }
  const double seconds = (monotonic_ns() - start) / 1e9;
  const Percentiles q = percentiles(latency);
  nlohmann::ordered_json j;
  j["streams"] = streams;
  j["in_flight_per_stream"] = depth;
  j["frames"] = latency.size();
  j["detector_frames"] = detector_frames;
  j["frames_per_s"] = latency.size() / seconds;
  j["latency_ms"] = {{"median", q.median}, {"p90", q.p90}, {"p99", q.p99}};
  return j;
}

void print_throughput(const nlohmann::ordered_json& runs) {
  std::printf("\nthroughput (one thread drives every stream round-robin, as the gateway's "
              "dispatcher does; latency = submit -> result on the host):\n");
  std::printf("%-8s %-10s %12s %14s %12s %12s %10s\n", "streams", "in flight", "frames/s",
              "per stream/s", "lat p50 ms", "lat p99 ms", "detected");
  for (const auto& r : runs) {
    const int n = r["streams"].get<int>();
    std::printf("%-8d %-10d %12.1f %14.1f %12.3f %12.3f %5d/%-5d\n", n,
                r["in_flight_per_stream"].get<int>(), r["frames_per_s"].get<double>(),
                r["frames_per_s"].get<double>() / n, r["latency_ms"]["median"].get<double>(),
                r["latency_ms"]["p99"].get<double>(), r["detector_frames"].get<int>(),
                r["frames"].get<int>());
  }
}

void print_table(const nlohmann::ordered_json& j) {
  std::printf("\n== %s | %s | frame %s | %d frames ==\n", j["device"].get<std::string>().c_str(),
              j["processor"].get<std::string>().c_str(), j["frame"].get<std::string>().c_str(),
              j["iters"].get<int>());
  std::printf("%-26s %10s %10s %10s\n", "stage (ms)", "median", "p90", "p99");
  for (const auto& [name, q] : j["stages_ms"].items()) {
    std::printf("%-26s %10.3f %10.3f %10.3f\n", name.c_str(), q["median"].get<double>(),
                q["p90"].get<double>(), q["p99"].get<double>());
  }
  if (j["overlap_models"].get<bool>()) {
    std::printf("(dfine* and sam_preprocess/sam_encoder/sam_decoder_image_side run side by "
                "side, sharing the GPU; --sequential-models times each model alone)\n");
  }
  std::printf("sustained: %.1f frames/s (process() back to back, one stream)\n",
              j["frames_per_s"].get<double>());
  std::printf("host synchronisations per frame: %.3f\n", j["host_syncs_per_frame"].get<double>());
  if (j["detect_every"].get<int>() > 1) {
    std::printf("detector skipping k=%d: D-FINE ran on %d of %d frames\n",
                j["detect_every"].get<int>(), j["detector_frames"].get<int>(),
                j["iters"].get<int>());
  }
  const auto& m = j["gpu_memory"];
  std::printf("GPU memory: weights %.1f MiB, frame graph pool %.1f MiB, process delta %.1f MiB "
              "(incl. CUDA/cuDNN/cuBLASLt context)\n",
              m["weights_mib"].get<double>(), m["graph_pool_mib"].get<double>(),
              m["process_delta_mib"].get<double>());
}
#endif

void run_bench(const BenchArgs& a) {
#ifndef UM_WITH_CUDA
  (void)a;
  throw Error(StatusCode::kFailedPrecondition,
              "bench measures the CUDA backend; this build has none (configure with "
              "-DULTRAMOTION_CUDA=ON on a machine with the CUDA toolkit and cuDNN)");
#else
  int width = 0, height = 0;
  char x = 0;
  if (std::sscanf(a.size.c_str(), "%d%c%d", &width, &x, &height) != 3 || x != 'x') {
    throw Error(StatusCode::kInvalidArgument, "--size must be WxH, got '" + a.size + "'");
  }
  for (int side : {width, height}) {
    if (side < pipeline::kMinFrameSide || side > pipeline::kMaxFrameSide) {
      throw Error(StatusCode::kOutOfRange, "--size " + a.size + ": each side must be in [" +
                                               std::to_string(pipeline::kMinFrameSide) + ", " +
                                               std::to_string(pipeline::kMaxFrameSide) + "]");
    }
  }
  if (a.iters < 1 || a.warmup < 1) throw Error(StatusCode::kInvalidArgument, "--iters and --warmup must be >= 1");
  std::vector<pipeline::Precision> runs;
  if (a.precision == "both") {
    runs = {pipeline::Precision::kFp32, pipeline::Precision::kFp16};
  } else {
    Result<pipeline::Precision> p = pipeline::parse_precision(a.precision);
    throw_if_error(p.status());
    runs = {*p};
  }
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  std::vector<int> stream_counts;
  for (size_t pos = 0; pos < a.streams.size();) {
    const size_t comma = std::min(a.streams.find(',', pos), a.streams.size());
    const std::string item = a.streams.substr(pos, comma - pos);
    char* end = nullptr;
    const long n = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || n < 1 || n > 64) {
      throw Error(StatusCode::kInvalidArgument,
                  "--streams must be a comma-separated list of counts in [1, 64], got '" +
                      a.streams + "'");
    }
    stream_counts.push_back(static_cast<int>(n));
    pos = comma + 1;
  }
  if (a.detect_every < 1) throw Error(StatusCode::kInvalidArgument, "--detect-every must be >= 1");
  for (pipeline::Precision p : runs) {
    nlohmann::ordered_json j = bench_one(a, p, width, height);
    print_table(j);
    nlohmann::ordered_json tp = nlohmann::ordered_json::array();
    tp.push_back(bench_throughput(a, p, width, height, 1, 1));  // baseline: process() serially
    for (int n : stream_counts) tp.push_back(bench_throughput(a, p, width, height, n, 2));
    print_throughput(tp);
    j["throughput"] = tp;
    all.push_back(j);
  }
  std::printf("\nreference (SPEC.md section 4, measured on an H200, not in this run): PyTorch eager "
              "38 ms/frame; torch.compile + CUDA graphs 2.2 ms D-FINE-S + 2.2 ms MobileSAM encoder "
              "+ decoder\n");
  if (!a.json.empty()) {
    std::ofstream(a.json) << all.dump(2) << "\n";
  }
#endif
}

void register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "GPU time per stage and per frame of the CUDA path");
  cmd->add_option("--dfine", a->dfine, "D-FINE checkpoint (default: the phantom model)");
  cmd->add_option("--sam", a->sam, "MobileSAM checkpoint (default: the phantom model)");
  cmd->add_option("--precision", a->precision, "fp32, fp16 (default) or both");
  cmd->add_option("--size", a->size, "frame size W x H (default 422x558)");
  cmd->add_option("--iters", a->iters, "measured frames (default 300)");
  cmd->add_option("--warmup", a->warmup, "unmeasured frames first (default 20)");
  cmd->add_option("--streams", a->streams,
                  "stream counts of the throughput table, comma-separated (default 1,2,4,8)");
  cmd->add_option("--detect-every", a->detect_every,
                  "detector skipping: D-FINE on every K-th frame while stable (default 1: off)");
  cmd->add_option("--json", a->json, "also write the figures as JSON to this file");
  cmd->add_flag("--fp16-backbone", a->fp16_backbone,
                "fp16: D-FINE's backbone in float16 too (faster; float32 by default for precision)");
  cmd->add_option("--tf32-backbone-parts", a->tf32_backbone_parts,
                  "fp16: TF32 tensor cores for the convs of the first N parts of D-FINE's float32 "
                  "backbone (stem, stages; default 0 = exact float32)")
      ->check(CLI::Range(0, 16));
  cmd->add_flag("--ffma-box-chain", a->ffma_box_chain,
                "fp16: D-FINE's float32 box-chain MLPs on exact FFMA instead of 3xTF32 tensor "
                "cores (the baseline of that choice)");
  cmd->add_flag("--sequential-models", a->sequential_models,
                "run MobileSAM's image encoder after D-FINE instead of beside it (the stage times "
                "of each model alone; the baseline of the overlap)");
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace

UM_REGISTER_COMMAND(register_bench);

}  // namespace um::cli
