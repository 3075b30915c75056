"""A 3D-Slicer-like OpenIGTLink client built on pyigtl (an independent implementation): connects
to the gateway's Slicer port, collects --count IMAGE messages named --device and prints one JSON
line per message (size, geometry, timestamp, metadata, pixel values). Exit 0 when all arrived,
3 on timeout. Used by tests/gateway/gateway_e2e_test.cpp.
"""
import argparse
import json
import sys
import time

import numpy as np
import pyigtl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--device", default="BoneMask")
    a = ap.parse_args()

    client = pyigtl.OpenIGTLinkClient(host="127.0.0.1", port=a.port)
    deadline = time.time() + a.timeout
    got = 0
    while got < a.count and time.time() < deadline:
        m = client.wait_for_message(a.device, timeout=0.5)
        if m is None:
            continue
        img = np.asarray(m.image)
        out = {
            "device": m.device_name,
            "shape": list(img.shape),
            "dtype": str(img.dtype),
            "values": sorted(int(v) for v in np.unique(img)),
            "matrix": np.asarray(m.ijk_to_world_matrix).tolist(),
            "timestamp": m.timestamp,
            "metadata": {str(k): str(v) for k, v in (m.metadata or {}).items()},
            "connected": client.is_connected(),
        }
        print(json.dumps(out), flush=True)
        got += 1
    client.stop()
    return 0 if got == a.count else 3


if __name__ == "__main__":
    sys.exit(main())
