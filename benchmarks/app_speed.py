"""The app as users meet it: start-up time, endpoint latency through gradio_client, memory.

    python -m benchmarks.app_speed [--requests 100]

Starts `python app.py` on a free port, times the first served request from the moment the
process starts, then calls /classify (CNN and ResNet) and /compare, and reads the server's
resident memory after every model has been loaded.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_app(**env: str) -> tuple[subprocess.Popen, str]:
    """`python app.py` on a free 127.0.0.1 port (extra environment in ``env``), once it
    serves its first request: (the process, its URL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", **env)
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the app did not start within 120 s")


def summary(times: list[float]) -> str:
    times = sorted(times)
    return (f"median {statistics.median(times):7.1f} ms   "
            f"p95 {times[int(0.95 * (len(times) - 1))]:7.1f} ms   (n={len(times)})")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.app_speed",
                                description=__doc__)
    p.add_argument("--requests", type=int, default=100)
    args = p.parse_args()
    from gradio_client import Client, handle_file

    start = time.perf_counter()
    proc, url = start_app()
    try:
        print(f"start to first served request: {time.perf_counter() - start:.1f} s")
        print(f"resident memory after start: {rss_mb(proc.pid):.0f} MB")
        client = Client(url, verbose=False)
        digit = handle_file(str(ROOT / "examples/digit/paper-4.jpg"))
        photo = handle_file(str(ROOT / "examples/clothing/photo-coat.jpg"))
        calls = {
            "/classify mnist-cnn": lambda: client.predict(digit, "mnist-cnn",
                                                          api_name="/classify"),
            "/classify fashion-mnist-resnet18": lambda: client.predict(
                photo, "fashion-mnist-resnet18", api_name="/classify"),
            "/compare mnist (6 models)": lambda: client.predict(digit, "mnist",
                                                                api_name="/compare"),
            "/compare fashion-mnist (6 models)": lambda: client.predict(
                photo, "fashion-mnist", api_name="/compare"),
        }
        for name, call in calls.items():
            for _ in range(3):
                call()  # warm-up (loads the models)
            times = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                call()
                times.append(1000 * (time.perf_counter() - t0))
            print(f"{name:<36} {summary(times)}")
        print(f"resident memory with all 12 models loaded: {rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
