#!/usr/bin/env python3
"""Browser test of the live dashboard (CTest: monitor_dashboard_browser).

Starts a server that records measured figures (monitor_demo_server, or any command given with
--server that prints "PORT <n>"), opens its page in headless Debian Chromium driven by Playwright
(the system browser: executable_path=/usr/bin/chromium, nothing downloaded), checks that the
figures arrive and change over a few seconds, that the charts fill, the latest frame loads and
the synthetic-weights banner shows, saves a screenshot, and parses /metrics with
prometheus_client's text parser.

  python3 dashboard_browser_test.py --server build/tests/monitor/monitor_demo_server \
      --screenshot build/dashboard.png
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright
from prometheus_client.parser import text_string_to_metric_families

CHROMIUM = os.environ.get("UM_CHROMIUM", "/usr/bin/chromium")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def start_server(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            fail(f"server exited before printing its port (rc={proc.poll()})")
        if line.startswith("PORT "):
            return proc, int(line.split()[1])
    fail("server did not print its port within 30 s")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


def check_prometheus(base):
    status, ctype, body = get(base + "/metrics")
    if status != 200 or not ctype.startswith("text/plain"):
        fail(f"/metrics: status {status}, content type {ctype}")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    # prometheus_client drops the _total suffix from counter family names.
    for name, kind in [("um_frames_received", "counter"), ("um_frames_sent", "counter"),
                       ("um_rx_to_tx_latency_seconds", "histogram"),
                       ("um_stage_latency_seconds", "histogram"), ("um_drops", "counter"),
                       ("um_queue_depth", "gauge"), ("um_visibility_state", "gauge"),
                       ("um_process_resident_memory_bytes", "gauge")]:
        if name not in families:
            fail(f"/metrics lacks family {name}; has {sorted(families)}")
        if families[name].type != kind:
            fail(f"/metrics {name} has type {families[name].type}, want {kind}")
    hist = families["um_rx_to_tx_latency_seconds"]
    buckets = [s for s in hist.samples if s.name.endswith("_bucket")]
    count = [s for s in hist.samples if s.name.endswith("_count")][0].value
    les = [float(s.labels["le"]) for s in buckets]
    if les != sorted(les) or les[-1] != float("inf"):
        fail(f"histogram le labels not increasing to +Inf: {les}")
    values = [s.value for s in buckets]
    if values != sorted(values) or values[-1] != count or count <= 0:
        fail(f"histogram buckets not cumulative or +Inf != _count ({values[-1]} vs {count})")
    print(f"prometheus: {len(families)} families parsed, rx_to_tx count {count:.0f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="server binary (prints 'PORT <n>')")
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--watch-seconds", type=float, default=3.0)
    args = ap.parse_args()

    proc, port = start_server([args.server, "--port", "0", "--synthetic", "--seconds", "90"])
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1500, "height": 1700})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(base + "/", wait_until="load")
            page.wait_for_function(
                "document.getElementById('stream-status').textContent === 'live'", timeout=15000)
            # Give the charts a couple of samples, then read the figures twice.
            page.wait_for_function("charts.fps.data.datasets[0].data.length >= 3", timeout=15000)
            read = lambda: page.evaluate(
                """() => ({frames: document.getElementById('frames').textContent,
                          fpsIn: document.getElementById('fps-in').textContent,
                          p50: document.getElementById('rx-p50').textContent,
                          uptime: document.getElementById('uptime').textContent,
                          points: charts.latency.data.datasets[0].data.length})""")
            first = read()
            time.sleep(args.watch_seconds)
            second = read()
            print("page figures:", first, "->", second)
            if first["frames"] == second["frames"]:
                fail("frame counts did not change on the page")
            if second["points"] <= first["points"]:
                fail("latency chart did not grow")
            fps_in = float(second["fpsIn"])
            if not 5.0 < fps_in < 60.0:  # the server paces 25 fps; a loaded CI box is slower
                fail(f"fps in {fps_in} is implausible for a 25 fps source")
            if float(second["p50"]) <= 0:
                fail("RX->TX p50 is not positive")
            # The page shows what the JSON endpoint says (same source of truth).
            m = json.loads(get(base + "/api/v1/metrics")[2])
            shown_in = int(second["frames"].split("/")[0])
            if abs(m["frames"]["received"] - shown_in) > 30:
                fail(f"page frames {shown_in} far from JSON {m['frames']['received']}")
            if not page.is_visible("#synthetic-banner"):
                fail("synthetic-weights banner not shown")
            page.wait_for_function(
                "document.getElementById('frame-img').naturalWidth > 0", timeout=10000)
            if "monitor_demo_server" not in page.text_content("#config"):
                fail("config in force not shown")
            stages = page.evaluate("charts.stages.data.labels")
            if "dfine" not in stages:
                fail(f"stage chart lacks dfine: {stages}")
            health = page.text_content("#health-status")
            if health not in ("OK", "DEGRADED"):
                fail(f"health pill shows {health!r}")
            page.screenshot(path=args.screenshot, full_page=True)
            print("screenshot:", args.screenshot)
            if errors:
                fail("page errors: " + "; ".join(errors))
            browser.close()
        check_prometheus(base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if proc.returncode not in (0, -15):
        fail(f"server exited with {proc.returncode}")
    print("PASS")


if __name__ == "__main__":
    main()
