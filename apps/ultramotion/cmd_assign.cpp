// File: apps/ultramotion/cmd_assign.cpp
// Purpose: `ultramotion assign [--device cpu|cuda] [--threads N] [--cuda-team auto|warp|block]
// [--cuda-cache auto|on|off]`: exact linear sum assignment
// of JSON cost matrices read from stdin (the scriptable face of src/pipeline/assignment.h; the
// SciPy comparison test drives it).
//
// Input (stdin), one of:
//   {"costs": [[1, 2], [3, 4]]}                 one problem
//   {"batch": [[[1, 2], [3, 4]], [[5]], []]}    several problems, ragged sizes allowed
// A matrix is an array of equally long rows; [] is 0x0 and [[], []] is 2x0. Entries:
//   number                         the cost (1e309 and other overflowing literals: see below)
//   null, "inf", "+inf", "infinity" (any case)   +inf = FORBIDDEN pair
//   "-inf", "nan"                  accepted by the parser, then rejected by the solver as invalid
// JSON has no infinity, so forbidden pairs are written as null or "inf". A number literal that
// overflows a double (1e309) is read as +inf when positive and -inf when negative, as Python's
// float() does; nlohmann-json would otherwise refuse the whole document.
//
// Output (stdout), one entry per problem, problem order kept:
//   {"assignments": [[[row, col], ...], ...], "total_costs": [..], "status": ["ok", ...]}
// Pairs are ordered by row (as SciPy's row_ind). A problem that fails ("infeasible" when no full
// assignment avoids the +inf entries, "invalid_entry" for NaN/-inf) gets [] and a null total,
// and the document gains "errors": [null | "message", ...]; the exit code is then 2.
// Malformed JSON or a bad shape: "error: INVALID_ARGUMENT: ..." on stderr, exit 1, no output.
// --device cuda solves the whole batch in one GPU launch in float32 (a finite cost beyond the
// float32 range is an INVALID_ARGUMENT error there); the CPU path uses the numbers as double,
// like SciPy. --cuda-team / --cuda-cache force a kernel variant (one warp or one block per
// problem; cost matrix cached in shared memory where it fits, or not): for the SciPy comparison
// of every variant; results are optimal in each.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "core/status.h"
#include "pipeline/assignment.h"
#ifdef UM_WITH_CUDA
#include "pipeline/assignment_cuda.h"
#endif

namespace um::cli {
namespace {

using nlohmann::json;
using pipeline::Assignment;

struct Matrix {
  int rows = 0;
  int cols = 0;
  std::vector<double> data;
};

// Replaces number literals that overflow a double by null (+inf) or "-inf", leaving strings
// alone, so the document parses. Everything else is left to the JSON parser to judge.
std::string replace_overflowing_numbers(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {  // copy a string literal verbatim, honouring escapes
      const size_t start = i++;
      while (i < text.size() && text[i] != '"') i += (text[i] == '\\') ? 2 : 1;
      i = std::min(i + 1, text.size());
      out.append(text, start, i - start);
      continue;
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = i + 1;
      while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) ||
                                   std::strchr("+-.eE", text[end]) != nullptr)) {
        ++end;
      }
      const std::string token = text.substr(i, end - i);
      const double value = std::strtod(token.c_str(), nullptr);
      if (std::isinf(value)) {
        out += value > 0 ? "null" : "\"-inf\"";
      } else {
        out += token;
      }
      i = end;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

double parse_entry(const json& v, size_t r, size_t c) {
  if (v.is_null()) return std::numeric_limits<double>::infinity();
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (s == "inf" || s == "+inf" || s == "infinity" || s == "+infinity") {
      return std::numeric_limits<double>::infinity();
    }
    if (s == "-inf" || s == "-infinity") return -std::numeric_limits<double>::infinity();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  }
  throw Error(invalid_argument("entry [" + std::to_string(r) + "][" + std::to_string(c) +
                               "] must be a number, null or \"inf\", got " + v.dump()));
}

Matrix parse_matrix(const json& m, const std::string& where) {
  if (!m.is_array()) throw Error(invalid_argument(where + ": a cost matrix must be an array of rows"));
  Matrix out;
  out.rows = static_cast<int>(m.size());
  for (size_t r = 0; r < m.size(); ++r) {
    const json& row = m[r];
    if (!row.is_array()) {
      throw Error(invalid_argument(where + ": row " + std::to_string(r) + " is not an array"));
    }
    if (r == 0) out.cols = static_cast<int>(row.size());
    if (static_cast<int>(row.size()) != out.cols) {
      throw Error(invalid_argument(where + ": row " + std::to_string(r) + " has " +
                                   std::to_string(row.size()) + " entries, row 0 has " +
                                   std::to_string(out.cols)));
    }
    for (size_t c = 0; c < row.size(); ++c) {
      try {
        out.data.push_back(parse_entry(row[c], r, c));
      } catch (const Error& e) {
        throw Error(e.status().with_context(where));
      }
    }
  }
  return out;
}

std::vector<Matrix> parse_input(const std::string& text) {
  json doc;
  try {
    doc = json::parse(replace_overflowing_numbers(text));
  } catch (const json::exception& e) {
    throw Error(invalid_argument(std::string("stdin is not valid JSON: ") + e.what()));
  }
  if (!doc.is_object() || (doc.contains("costs") == doc.contains("batch"))) {
    throw Error(invalid_argument(
        "expected a JSON object with exactly one of \"costs\" (a matrix) or \"batch\" (an array "
        "of matrices)"));
  }
  std::vector<Matrix> problems;
  if (doc.contains("costs")) {
    problems.push_back(parse_matrix(doc["costs"], "costs"));
  } else {
    const json& batch = doc["batch"];
    if (!batch.is_array()) throw Error(invalid_argument("\"batch\" must be an array of matrices"));
    for (size_t b = 0; b < batch.size(); ++b) {
      problems.push_back(parse_matrix(batch[b], "batch[" + std::to_string(b) + "]"));
    }
  }
  return problems;
}

struct Options {
  std::string device = "cpu";
  int threads = 0;
  std::string cuda_team = "auto";   // auto | warp | block
  std::string cuda_cache = "auto";  // auto | on | off
};

std::vector<Result<Assignment>> solve(const std::vector<Matrix>& problems, const Options& opt) {
  const std::string& device = opt.device;
  const int threads = opt.threads;
  if (device == "cpu") {
    std::vector<pipeline::CostMatrixView<double>> views;
    for (const auto& m : problems) views.push_back({m.data.data(), m.rows, m.cols});
    return pipeline::solve_assignment_batch(views, threads);
  }
  // Input is checked before the device: a finite cost beyond float range would silently become
  // a forbidden pair on the GPU.
  for (size_t b = 0; b < problems.size(); ++b) {
    for (size_t k = 0; k < problems[b].data.size(); ++k) {
      const double x = problems[b].data[k];
      if (std::isfinite(x) && std::abs(x) > std::numeric_limits<float>::max()) {
        throw Error(invalid_argument(
            "problem " + std::to_string(b) + " entry [" + std::to_string(k / problems[b].cols) +
            "][" + std::to_string(k % problems[b].cols) +
            "] is outside the float32 range that --device cuda solves in"));
      }
    }
  }
#ifdef UM_WITH_CUDA
  if (!pipeline::cuda_assignment_available()) {
    throw Error(failed_precondition("--device cuda: no CUDA device is available"));
  }
  std::vector<std::vector<float>> f32(problems.size());
  std::vector<pipeline::CostMatrixView<float>> views;
  for (size_t b = 0; b < problems.size(); ++b) {
    f32[b].assign(problems[b].data.begin(), problems[b].data.end());
    views.push_back({f32[b].data(), problems[b].rows, problems[b].cols});
  }
  pipeline::CudaAssignmentOptions cuda_opt;
  cuda_opt.team = opt.cuda_team == "warp"    ? pipeline::CudaAssignmentTeam::kWarp
                  : opt.cuda_team == "block" ? pipeline::CudaAssignmentTeam::kBlock
                                             : pipeline::CudaAssignmentTeam::kAuto;
  cuda_opt.cache = opt.cuda_cache == "on"    ? pipeline::CudaAssignmentCache::kOn
                   : opt.cuda_cache == "off" ? pipeline::CudaAssignmentCache::kOff
                                             : pipeline::CudaAssignmentCache::kAuto;
  pipeline::CudaAssignmentSolver solver(cuda_opt);
  return solver.solve(views);
#else
  throw Error(failed_precondition("--device cuda: this build has no CUDA backend"));
#endif
}

void register_assign(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "assign",
      "Exact linear sum assignment of JSON cost matrices on stdin ({\"costs\": [[...]]} or "
      "{\"batch\": [...]}; null or \"inf\" = forbidden). Prints {\"assignments\", "
      "\"total_costs\", \"status\"}; exit 2 if a problem is infeasible or invalid.");
  auto opt = std::make_shared<Options>();
  cmd->add_option("--device", opt->device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads for a batch (0 = automatic)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--cuda-team", opt->cuda_team,
                  "CUDA kernel variant: one warp or one block per problem (tests/benchmarks)")
      ->check(CLI::IsMember({"auto", "warp", "block"}))
      ->capture_default_str();
  cmd->add_option("--cuda-cache", opt->cuda_cache,
                  "CUDA kernel variant: cost matrix in shared memory where it fits (on) or never")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->callback([opt] {
    const std::string text{std::istreambuf_iterator<char>(std::cin),
                           std::istreambuf_iterator<char>()};
    const std::vector<Matrix> problems = parse_input(text);
    const std::vector<Result<Assignment>> results = solve(problems, *opt);

    json assignments = json::array(), totals = json::array(), status = json::array(),
         errors = json::array();
    bool any_failed = false;
    for (const auto& r : results) {
      if (r.ok()) {
        json pairs = json::array();
        for (size_t k = 0; k < r->row_ind.size(); ++k) {
          pairs.push_back(json::array({r->row_ind[k], r->col_ind[k]}));
        }
        assignments.push_back(std::move(pairs));
        totals.push_back(r->total_cost);
        status.push_back("ok");
        errors.push_back(nullptr);
      } else {
        any_failed = true;
        assignments.push_back(json::array());
        totals.push_back(nullptr);
        status.push_back(r.status().code() == StatusCode::kFailedPrecondition ? "infeasible"
                                                                               : "invalid_entry");
        errors.push_back(r.status().to_string());
      }
    }
    json out = {{"assignments", assignments}, {"total_costs", totals}, {"status", status}};
    if (any_failed) out["errors"] = errors;
    std::cout << out.dump() << "\n";
    std::cout.flush();
    if (any_failed) throw CommandFailed(2, "some problems have no valid assignment");
  });
}

}  // namespace

UM_REGISTER_COMMAND(register_assign);

}  // namespace um::cli
