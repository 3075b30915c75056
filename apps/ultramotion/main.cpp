// The `ultramotion` command line: a hub that only routes to the cmd_*.cpp subcommands.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "command_registry.h"
#include "core/log.h"
#include "core/status.h"

namespace um::cli {
namespace {
std::map<std::string, Registrar>& registry() {
  static std::map<std::string, Registrar> r;
  return r;
}
}  // namespace

int register_command(const char* name, Registrar registrar) {
  registry()[name] = registrar;
  return 0;
}
}  // namespace um::cli

int main(int argc, char** argv) {
  CLI::App app{"UltraMotion: real-time ultrasound bone detection and segmentation gateway"};
  app.set_version_flag("--version", "ultramotion 0.1.0");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")->capture_default_str();
  app.require_subcommand(1);
  app.parse_complete_callback([&] { um::init_logging(log_level); });
  for (auto& [name, reg] : um::cli::registry()) reg(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const um::cli::CommandFailed& e) {
    return e.code;
  } catch (const um::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
