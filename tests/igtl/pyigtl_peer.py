#!/usr/bin/env python3
"""pyigtl as an independent OpenIGTLink peer for tests/igtl/pyigtl_interop_test.cpp.

  pyigtl_peer.py server PORT   pyigtl listens on 127.0.0.1:PORT, sends the reference messages
                               to whoever connects, then expects the ultramotion echoes.
  pyigtl_peer.py client PORT   pyigtl connects to 127.0.0.1:PORT, expects the reference
                               messages from ultramotion, then sends its own.

The reference messages (kept identical to reference_messages() in the C++ test):
  IMAGE "Image_Reference"/"Echo_U8"   uint8, (k,j,i) = (1,23,37), v = (7i + 13j + 5k) % 256,
                                      spacing (0.3, 0.45, 2.0), axes rotated 0.5 rad about z,
                                      first-voxel origin (10.5, -20.25, 5.0), LPS
  IMAGE "Image_Float"/"Echo_F32"      float32, (3,11,19), v = 0.5i - 0.25j + 100.125k,
                                      spacing (0.2, 0.2, 0.5), identity axes, origin (-5, 3, 1)
  STRING "Text"/"EchoText"            "hello from <sender>"
  TRANSFORM "ProbeToReference"/"EchoTransform"  [[0,-1,0,10.5],[1,0,0,20.25],[0,0,1,-30]]
  metadata on every message: FrameId=42, Sender=<sender>; header version 2.
Exit 0 when everything received matched exactly (pixels, geometry, metadata); 1 otherwise.
pyigtl's ijk_to_world_matrix has spacing in its columns and the FIRST voxel as origin; on the
wire pyigtl writes the image centre (checked against its source, messages.py).
"""
import math
import sys
import time

import numpy as np
import pyigtl

TIMEOUT = 20.0


def u8_image():
    k, j, i = np.meshgrid(np.arange(1), np.arange(23), np.arange(37), indexing="ij")
    return ((7 * i + 13 * j + 5 * k) % 256).astype(np.uint8)


def u8_matrix():
    c, s = math.cos(0.5), math.sin(0.5)
    m = np.eye(4)
    m[0:3, 0] = np.array([c, s, 0]) * 0.3
    m[0:3, 1] = np.array([-s, c, 0]) * 0.45
    m[0:3, 2] = np.array([0, 0, 1]) * 2.0
    m[0:3, 3] = [10.5, -20.25, 5.0]
    return m


def f32_image():
    k, j, i = np.meshgrid(np.arange(3), np.arange(11), np.arange(19), indexing="ij")
    return (0.5 * i - 0.25 * j + 100.125 * k).astype(np.float32)


def f32_matrix():
    m = np.diag([0.2, 0.2, 0.5, 1.0])
    m[0:3, 3] = [-5.0, 3.0, 1.0]
    return m


TRANSFORM = np.array([[0, -1, 0, 10.5], [1, 0, 0, 20.25], [0, 0, 1, -30], [0, 0, 0, 1]],
                     dtype=np.float32)


def reference_messages(sender, names):
    meta = {"FrameId": "42", "Sender": sender}
    msgs = [
        pyigtl.ImageMessage(u8_image(), ijk_to_world_matrix=u8_matrix(), device_name=names[0]),
        pyigtl.ImageMessage(f32_image(), ijk_to_world_matrix=f32_matrix(), device_name=names[1]),
        pyigtl.StringMessage("hello from " + sender, device_name=names[2]),
        pyigtl.TransformMessage(TRANSFORM, device_name=names[3]),
    ]
    for m in msgs:
        m.header_version = 2
        m.metadata = dict(meta)
    return msgs


def check(peer, sender, names):
    errors = []
    got = {}
    deadline = time.time() + TIMEOUT
    for name in names:
        m = peer.wait_for_message(name, timeout=max(0.1, deadline - time.time()))
        if m is None:
            errors.append(f"no message '{name}'")
        got[name] = m
    want_meta = {"FrameId": "42", "Sender": sender}
    for name, m in got.items():
        if m is None:
            continue
        if m.metadata != want_meta:
            errors.append(f"{name}: metadata {m.metadata} != {want_meta}")
        if m.header_version != 2:
            errors.append(f"{name}: header version {m.header_version}")
    u8, f32, text, tr = (got[n] for n in names)
    if u8 is not None:
        if u8.image.dtype != np.uint8 or not np.array_equal(u8.image, u8_image()):
            errors.append(f"{names[0]}: uint8 pixels differ ({u8.image.dtype}, {u8.image.shape})")
        if not np.allclose(u8.ijk_to_world_matrix, u8_matrix(), atol=1e-5):
            errors.append(f"{names[0]}: matrix\n{u8.ijk_to_world_matrix}\n!=\n{u8_matrix()}")
        if u8.world_coordinate_system != "lps":
            errors.append(f"{names[0]}: coordinates {u8.world_coordinate_system}")
    if f32 is not None:
        if f32.image.dtype.kind != "f" or f32.image.dtype.itemsize != 4 or \
                not np.array_equal(f32.image, f32_image()):
            errors.append(f"{names[1]}: float32 pixels differ ({f32.image.dtype}, {f32.image.shape})")
        if not np.allclose(f32.ijk_to_world_matrix, f32_matrix(), atol=1e-5):
            errors.append(f"{names[1]}: matrix\n{f32.ijk_to_world_matrix}")
    if text is not None and text.string != "hello from " + sender:
        errors.append(f"{names[2]}: string '{text.string}'")
    if tr is not None and not np.allclose(tr.matrix, TRANSFORM, atol=1e-6):
        errors.append(f"{names[3]}: matrix\n{tr.matrix}")
    return errors


REFERENCE_NAMES = ["Image_Reference", "Image_Float", "Text", "ProbeToReference"]
ECHO_NAMES = ["Echo_U8", "Echo_F32", "EchoText", "EchoTransform"]


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "server":
        peer = pyigtl.OpenIGTLinkServer(port=port, local_server=True)
        print(f"pyigtl server listening on {port}", flush=True)
        for m in reference_messages("pyigtl", REFERENCE_NAMES):
            peer.send_message(m, wait=False)
        errors = check(peer, "ultramotion", ECHO_NAMES)
        peer.stop()
    else:
        peer = pyigtl.OpenIGTLinkClient(host="127.0.0.1", port=port)
        errors = check(peer, "ultramotion", REFERENCE_NAMES)
        for m in reference_messages("pyigtl", ECHO_NAMES):
            peer.send_message(m, wait=True)
        time.sleep(0.5)  # let the last bytes leave before the socket closes
        peer.stop()
    for e in errors:
        print("MISMATCH:", e, flush=True)
    print("PYIGTL OK" if not errors else "PYIGTL FAILED", flush=True)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
