// File: src/core/log.h
// Purpose: one logging set-up for the whole program (spdlog, to stderr). Modules log through spdlog's
// default logger (spdlog::info(...)); init_logging() sets the pattern and level once, in main.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace um {

// level: trace|debug|info|warn|error|off. Unknown levels fall back to info.
void init_logging(const std::string& level = "info");

}  // namespace um
