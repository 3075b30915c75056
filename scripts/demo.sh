#!/usr/bin/env bash
# The main job on a fresh machine: installs dependencies, builds, and starts `ultramotion demo`
# (built-in PLUS-like simulator -> gateway -> Slicer server, with the live dashboard), using the
# phantom demo models shipped in models/phantom. Extra arguments go to `ultramotion demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./build/ultramotion demo "$@"
