#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace um {

void init_logging(const std::string& level) {
  // Logs go to stderr so that a command's stdout carries only its output (--json, dumps).
  auto logger = spdlog::stderr_color_mt("ultramotion");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [%^%l%$] %v");
  auto lvl = spdlog::level::from_str(level);
  // from_str returns "off" for unknown names; only honour it when asked for explicitly.
  if (lvl == spdlog::level::off && level != "off") lvl = spdlog::level::info;
  spdlog::set_level(lvl);
}

}  // namespace um
