// A small driver for check_matching_cost.py: reads
//   {"logits": [[...]], "boxes": [[cx,cy,w,h]...], "labels": [...], "targets": [[...]...],
//    "focal": true, "k": 1}
// on stdin and prints {"cost": [[...]], "rounds": [[[q, t], ...], ...]} (dfine_matching_cost and
// dfine_match). Bad input: message on stderr, exit 1.
#include <iostream>
#include <iterator>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/matching_cost.h"

int main() {
  using nlohmann::json;
  try {
    const json in = json::parse(std::string(std::istreambuf_iterator<char>(std::cin), {}));
    const auto logits = in.at("logits").get<std::vector<std::vector<float>>>();
    const auto boxes = in.at("boxes").get<std::vector<std::vector<float>>>();
    const auto labels = in.at("labels").get<std::vector<int>>();
    const auto targets = in.at("targets").get<std::vector<std::vector<float>>>();
    std::vector<float> flat_logits, flat_boxes, flat_targets;
    for (const auto& r : logits) flat_logits.insert(flat_logits.end(), r.begin(), r.end());
    for (const auto& r : boxes) flat_boxes.insert(flat_boxes.end(), r.begin(), r.end());
    for (const auto& r : targets) flat_targets.insert(flat_targets.end(), r.begin(), r.end());
    um::pipeline::MatchingCostInputs mi;
    mi.pred_logits = flat_logits.data();
    mi.pred_boxes = flat_boxes.data();
    mi.num_queries = static_cast<int>(logits.size());
    mi.num_classes = logits.empty() ? 0 : static_cast<int>(logits[0].size());
    mi.target_labels = labels.data();
    mi.target_boxes = flat_targets.data();
    mi.num_targets = static_cast<int>(labels.size());
    um::pipeline::MatchingCostConfig cfg;
    cfg.use_focal_loss = in.value("focal", true);
    auto cost = um::pipeline::dfine_matching_cost(mi, cfg);
    if (!cost.ok()) throw std::runtime_error(cost.status().to_string());
    json rows = json::array();
    for (int q = 0; q < mi.num_queries; ++q) {
      rows.push_back(std::vector<float>(cost->begin() + q * mi.num_targets,
                                        cost->begin() + (q + 1) * mi.num_targets));
    }
    auto match = um::pipeline::dfine_match(mi, in.value("k", 1), cfg);
    if (!match.ok()) throw std::runtime_error(match.status().to_string());
    json rounds = json::array();
    for (const auto& a : *match) {
      json pairs = json::array();
      for (size_t i = 0; i < a.row_ind.size(); ++i) pairs.push_back({a.row_ind[i], a.col_ind[i]});
      rounds.push_back(pairs);
    }
    std::cout << json{{"cost", rows}, {"rounds", rounds}}.dump() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
