// File: apps/ultramotion/cmd_simulate_plus.cpp
// Purpose: `ultramotion simulate-plus`: a PlusServer stand-in (plus_simulator.h) streaming the
// moving phantom or a folder of PNG/JPEG frames, until SIGINT/SIGTERM (or --max-frames).
//   ultramotion simulate-plus --port 18944 [--source DIR|phantom] [--fps 25] [--loop]
//       [--size HxW] [--device Image_Reference] [--burst-probability 0.1] [--max-frames N]
#include <cstdio>
#include <string>

#include "command_registry.h"
#include "gateway/plus_simulator.h"
#include "gateway/shutdown_signal.h"

namespace um::cli {
namespace {

struct SimArgs {
  gateway::PlusSimulatorOptions o;
  std::string size = "558x422";
  bool loop = false;
  int port = 18944;
};

void run_simulator(SimArgs a) {
  Result<pipeline::FrameSize> size = gateway::parse_frame_size(a.size);
  throw_if_error(size.status());
  if (a.port < 0 || a.port > 65535) throw Error(invalid_argument("--port: out of range 0..65535"));
  a.o.port = static_cast<uint16_t>(a.port);
  a.o.source_options.size = size.value();
  a.o.source_options.loop = a.loop;
  gateway::install_shutdown_handlers();
  gateway::PlusSimulator sim(a.o);
  throw_if_error(sim.start());
  std::printf("PLUS simulator on %s:%u, device '%s', %s at %.1f fps (Ctrl-C stops)\n",
              a.o.host.c_str(), sim.port(), a.o.device.c_str(), sim.source_description().c_str(),
              a.o.fps);
  std::fflush(stdout);
  while (!gateway::wait_for_shutdown(std::chrono::milliseconds(1000))) {
    if (a.o.max_frames >= 0 &&
        sim.counters().frames_generated >= static_cast<uint64_t>(a.o.max_frames))
      break;
  }
  const gateway::PlusSimulatorCounters c = sim.counters();
  sim.stop();
  std::printf("simulator stopped: %llu frames generated, %llu sent, %llu bursts, %llu keep-alives\n",
              static_cast<unsigned long long>(c.frames_generated),
              static_cast<unsigned long long>(c.frames_sent),
              static_cast<unsigned long long>(c.bursts),
              static_cast<unsigned long long>(c.keepalives));
}

void register_simulate_plus(CLI::App& app) {
  auto a = std::make_shared<SimArgs>();
  CLI::App* cmd = app.add_subcommand("simulate-plus",
                                     "Stream ultrasound frames like PlusServer (OpenIGTLink IMAGE)");
  cmd->add_option("--port", a->port, "listening port (0 = any free port)")->capture_default_str();
  cmd->add_option("--host", a->o.host, "listening address")->capture_default_str();
  cmd->add_option("--source", a->o.source, "'phantom' or a folder of PNG/JPEG frames")
      ->capture_default_str();
  cmd->add_option("--fps", a->o.fps, "frames per second")->capture_default_str();
  cmd->add_flag("--loop", a->loop, "folder source: start again after the last image");
  cmd->add_option("--size", a->size, "phantom frame size HxW")->capture_default_str();
  cmd->add_option("--device", a->o.device, "IMAGE device name")->capture_default_str();
  cmd->add_option("--burst-probability", a->o.burst_probability,
                  "chance that a frame starts a burst of 2-3 frames sent back to back")
      ->capture_default_str();
  cmd->add_option("--max-frames", a->o.max_frames, "stop after N frames (-1: endless)")
      ->capture_default_str();
  cmd->add_option("--seed", a->o.source_options.seed, "phantom seed")->capture_default_str();
  cmd->callback([a] { run_simulator(*a); });
}

}  // namespace
UM_REGISTER_COMMAND(register_simulate_plus);
}  // namespace um::cli
