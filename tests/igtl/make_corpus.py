#!/usr/bin/env python3
"""Writes tests/igtl/corpus/: OpenIGTLink byte streams, malformed on purpose, plus a MANIFEST
saying what StreamReader must do with each (reasons counted in order, messages delivered,
connection closed or kept). Packing here is written from the protocol description (SPEC.md
section 2) with Python's struct and crcmod, independently of the C++ codec it checks.
Most streams end with a valid STATUS "Sentinel": delivered only if the connection is kept.
Re-run after changing a case:  python3 tests/igtl/make_corpus.py
"""
import os
import struct

import crcmod

CRC64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, rev=False, initCrc=0, xorOut=0)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def header(msg_type, device, body, version=1, body_size=None, crc=None, ts=(1700000000, 1 << 31)):
    size = len(body) if body_size is None else body_size
    c = CRC64(body) if crc is None else crc
    return struct.pack(">H12s20sIIQQ", version, msg_type.encode(), device.encode(), ts[0], ts[1],
                       size, c)


def msg(msg_type, device, body, **kw):
    return header(msg_type, device, body, **kw) + body


def status_body(code=1, text="ok"):
    return struct.pack(">Hq20s", code, 0, b"") + text.encode() + b"\0"


SENTINEL = msg("STATUS", "Sentinel", status_body(1, "after"))


def image_content(size=(10, 10, 1), scalar=3, comps=1, pixels=None, sub_off=(0, 0, 0),
                  sub_size=None, matrix=None, version=1, endian=2, coord=2):
    sub_size = size if sub_size is None else sub_size
    matrix = matrix or [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]
    h = struct.pack(">HBBBB3H12f3H3H", version, comps, scalar, endian, coord, *size, *matrix,
                    *sub_off, *sub_size)
    if pixels is None:
        ssize = {2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 4, 10: 4, 11: 8}.get(scalar, 1)
        n = sub_size[0] * sub_size[1] * sub_size[2] * comps * ssize
        pixels = bytes((i * 7) & 0xFF for i in range(n))
    return h + pixels


def v2_body(content, metadata=(), msg_id=7, ext_size=12, meta_header=None, meta_values=None,
            meta_header_size=None, meta_size=None):
    mh = struct.pack(">H", len(metadata))
    mv = b""
    for k, v in metadata:
        mh += struct.pack(">HHI", len(k), 3, len(v))
        mv += k.encode() + v.encode()
    mh = mh if meta_header is None else meta_header
    mv = mv if meta_values is None else meta_values
    mhs = len(mh) if meta_header_size is None else meta_header_size
    ms = len(mv) if meta_size is None else meta_size
    ext = struct.pack(">HHII", ext_size, mhs, ms, msg_id) + b"\0" * max(0, ext_size - 12)
    return ext + content + mh + mv


CASES = []  # (name, bytes, reasons, messages, closed)


def case(name, data, reasons, messages, closed):
    CASES.append((name, data, reasons, messages, closed))


img = image_content()
# Valid streams (also fuzzing seeds).
case("valid_image_v1", msg("IMAGE", "Image_Reference", img) + SENTINEL, [], 2, False)
case("valid_image_v2_metadata",
     msg("IMAGE", "Image_Reference", v2_body(img, [("FrameId", "12"), ("State", "VISIBLE")]),
         version=2) + SENTINEL, [], 2, False)
case("valid_string_transform",
     msg("STRING", "Text", struct.pack(">HH", 3, 5) + b"hello") +
     msg("TRANSFORM", "T", struct.pack(">12f", *range(12))) + SENTINEL, [], 3, False)
case("valid_get_status_v2", msg("GET_STATUS", "", v2_body(b""), version=2) + SENTINEL, [], 2,
     False)
case("unknown_type_skipped", msg("FOOBAR", "X", b"\x01\x02\x03\x04\x05") + SENTINEL, [], 2,
     False)
case("subvolume_valid",
     msg("IMAGE", "Sub", image_content(size=(8, 6, 1), sub_off=(2, 1, 0), sub_size=(4, 3, 1))) +
     SENTINEL, [], 2, False)

# Framing.
case("short_header", msg("STATUS", "S", status_body())[:30], ["truncated"], 0, True)
case("bad_header_version", header("STATUS", "S", status_body(), version=7) + status_body() +
     SENTINEL, ["bad_header"], 0, True)
case("bad_type_chars", msg("IMA\x01GE", "S", img) + SENTINEL, ["bad_header"], 0, True)
case("bad_device_chars", msg("IMAGE", "dev\xff".encode("latin1").decode("latin1"), img) + SENTINEL,
     ["bad_header"], 0, True)
case("huge_body_size", header("IMAGE", "Huge", b"", body_size=1 << 40) + img, ["body_too_large"],
     0, True)
case("max_body_size", header("IMAGE", "Huge", b"", body_size=(1 << 64) - 1) + img,
     ["body_too_large"], 0, True)
# Body size lying small: the declared prefix (CRC matching it) has too few pixels; the rest of
# the real body then fails to parse as a header.
short = img[:len(img) - 60]
case("body_size_too_small", header("IMAGE", "Liar", short) + img + SENTINEL,
     ["bad_content", "bad_header"], 0, True)
# Body size lying large, stream ends first.
body = struct.pack(">HH", 3, 5) + b"hello"
case("body_size_too_large_eof", header("STRING", "Liar", body, body_size=len(body) + 50) + body,
     ["truncated"], 0, True)
# Body size lying large, swallowing the sentinel: CRC catches it, the next message survives.
case("body_size_too_large_swallows",
     header("STRING", "Liar", body, body_size=len(body) + len(SENTINEL)) + body + SENTINEL +
     SENTINEL, ["bad_crc"], 1, False)
case("bad_crc", msg("IMAGE", "Image_Reference", img, crc=CRC64(img) ^ 1) + SENTINEL, ["bad_crc"],
     1, False)

# Header version 2: extended header and metadata.
case("v2_body_too_short_for_ext", msg("STATUS", "S", b"\0\x0c\0\0", version=2) + SENTINEL,
     ["bad_extended_header"], 1, False)
case("v2_ext_size_too_large", msg("IMAGE", "S", v2_body(img, ext_size=5000)[:len(img) + 14],
                                  version=2) + SENTINEL, ["bad_extended_header"], 1, False)
case("v2_ext_size_too_small", msg("STATUS", "S", v2_body(status_body(), ext_size=4), version=2) +
     SENTINEL, ["bad_extended_header"], 1, False)
case("v2_metadata_sizes_exceed_body",
     msg("STATUS", "S", v2_body(status_body(), [("a", "b")], meta_size=100000), version=2) +
     SENTINEL, ["bad_metadata"], 1, False)
case("v2_metadata_count_too_high",
     msg("STATUS", "S", v2_body(status_body(), [("a", "b"), ("c", "d")],
                                meta_header=struct.pack(">HHHIHHI", 3, 1, 3, 1, 1, 3, 1)),
         version=2) + SENTINEL, ["bad_metadata"], 1, False)
case("v2_metadata_count_too_low",
     msg("STATUS", "S", v2_body(status_body(), [("a", "b"), ("c", "d")],
                                meta_header=struct.pack(">HHHIHHI", 1, 1, 3, 1, 1, 3, 1)),
         version=2) + SENTINEL, ["bad_metadata"], 1, False)
case("v2_metadata_value_overruns",
     msg("STATUS", "S", v2_body(status_body(), [("key", "value")],
                                meta_header=struct.pack(">HHHI", 1, 3, 3, 999)), version=2) +
     SENTINEL, ["bad_metadata"], 1, False)
case("v2_metadata_leftover_bytes",
     msg("STATUS", "S", v2_body(status_body(), [("key", "value")],
                                meta_values=b"keyvalueEXTRA"), version=2) + SENTINEL,
     ["bad_metadata"], 1, False)
case("v2_metadata_header_odd_size",
     msg("STATUS", "S", v2_body(status_body(), meta_header=b"\0\0\0"), version=2) + SENTINEL,
     ["bad_metadata"], 1, False)

# IMAGE sizes.
case("image_pixels_short", msg("IMAGE", "I", image_content(pixels=b"\0" * 50)) + SENTINEL,
     ["bad_content"], 1, False)
case("image_pixels_long", msg("IMAGE", "I", image_content(pixels=b"\0" * 150)) + SENTINEL,
     ["bad_content"], 1, False)
case("image_header_short", msg("IMAGE", "I", img[:40]) + SENTINEL, ["bad_content"], 1, False)
case("image_subvolume_outside",
     msg("IMAGE", "I", image_content(size=(8, 6, 1), sub_off=(6, 0, 0), sub_size=(4, 6, 1))) +
     SENTINEL, ["bad_content"], 1, False)
case("image_zero_size", msg("IMAGE", "I", image_content(size=(0, 10, 1), pixels=b"")) + SENTINEL,
     ["bad_content"], 1, False)
case("image_bad_scalar_type", msg("IMAGE", "I", image_content(scalar=9, pixels=b"\0" * 100)) +
     SENTINEL, ["bad_content"], 1, False)
case("image_zero_components", msg("IMAGE", "I", image_content(comps=0, pixels=b"")) + SENTINEL,
     ["bad_content"], 1, False)
case("image_five_components", msg("IMAGE", "I", image_content(comps=5)) + SENTINEL,
     ["bad_content"], 1, False)
case("image_nan_matrix", msg("IMAGE", "I", image_content(matrix=[float("nan")] + [0] * 11)) +
     SENTINEL, ["bad_content"], 1, False)
case("image_zero_axis", msg("IMAGE", "I", image_content(matrix=[0] * 12)) + SENTINEL,
     ["bad_content"], 1, False)
case("image_bad_endian", msg("IMAGE", "I", image_content(endian=3)) + SENTINEL, ["bad_content"], 1,
     False)
case("image_max_size_tiny_body",
     msg("IMAGE", "I", image_content(size=(65535, 65535, 65535), pixels=b"\0" * 16)) + SENTINEL,
     ["bad_content"], 1, False)
case("image_v2_pixels_short",
     msg("IMAGE", "I", v2_body(image_content(pixels=b"\0" * 99), [("k", "v")]), version=2) +
     SENTINEL, ["bad_content"], 1, False)

# Other content.
case("string_length_too_long", msg("STRING", "S", struct.pack(">HH", 3, 200) + b"abc") + SENTINEL,
     ["bad_content"], 1, False)
case("string_length_too_short", msg("STRING", "S", struct.pack(">HH", 3, 1) + b"abc") + SENTINEL,
     ["bad_content"], 1, False)
case("transform_short", msg("TRANSFORM", "T", b"\0" * 40) + SENTINEL, ["bad_content"], 1, False)
case("status_short", msg("STATUS", "S", b"\0" * 10) + SENTINEL, ["bad_content"], 1, False)
case("status_empty_body", msg("STATUS", "S", b"") + SENTINEL, ["bad_content"], 1, False)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    lines = ["# name | reject reasons in order | messages delivered | connection closed (1/0)"]
    for name, data, reasons, messages, closed in CASES:
        with open(os.path.join(OUT, name + ".bin"), "wb") as fh:
            fh.write(data)
        lines.append(f"{name} | {','.join(reasons)} | {messages} | {int(closed)}")
    with open(os.path.join(HERE, "corpus_manifest.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {len(CASES)} cases to {OUT}")


if __name__ == "__main__":
    main()
