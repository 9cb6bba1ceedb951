"""The public API under a bounded concurrent load, on this machine only.

    python -m benchmarks.load [--clients 8] [--requests 30] [--rounds 2]

Starts `python app.py` on a free 127.0.0.1 port with its own upload folder, computes every
request's answer serially, then sends rounds of `clients x requests` mixed calls of every
endpoint (/classify, /explain, /compare; digits and clothing) from concurrent clients. Prints
errors, p50/p95 latency per endpoint, whether each answer equals the serial one, the server's
resident memory before and after each round, and the upload folder's size.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.app_speed import rss_mb, start_app  # the same server start and memory reading

ROOT = Path(__file__).resolve().parent.parent
DIGIT = ROOT / "examples/digit/paper-4.jpg"
PHOTO = ROOT / "examples/clothing/photo-coat.jpg"
# (endpoint, file, other arguments): every endpoint, both datasets
CALLS = [
    ("/classify", DIGIT, ("mnist-cnn",)),
    ("/classify", PHOTO, ("fashion-mnist-resnet18",)),
    ("/explain", DIGIT, ("mnist-cnn", "gradcam", None)),
    ("/explain", PHOTO, ("fashion-mnist-cnn", "integrated_gradients", None)),
    ("/compare", DIGIT, ("mnist",)),
    ("/compare", PHOTO, ("fashion-mnist",)),
]


def folder_mb(folder: Path) -> tuple[float, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20, len(files)


def comparable(endpoint: str, answer):
    """What must not change between serial and concurrent calls (latency aside)."""
    if endpoint == "/explain":
        return np.asarray(Image.open(answer)).tobytes()
    if endpoint == "/compare":
        return [(r["model"], r["label"], r["top3"]) for r in answer]
    return answer


def one_round(url: str, clients: int, requests: int, expected: list) -> dict:
    from gradio_client import Client, handle_file

    def client_run(k: int) -> list[tuple[str, float, str]]:
        client = Client(url, verbose=False)
        out = []
        for i in range(requests):
            j = (k + i) % len(CALLS)
            endpoint, path, args = CALLS[j]
            t0 = time.perf_counter()
            try:
                answer = client.predict(handle_file(str(path)), *args, api_name=endpoint)
                ms = 1000 * (time.perf_counter() - t0)
                status = "same" if comparable(endpoint, answer) == expected[j] else "differs"
            except Exception as err:  # counted and reported, the round goes on
                ms, status = 1000 * (time.perf_counter() - t0), f"error: {err}"
            out.append((endpoint, ms, status))
        return out

    with ThreadPoolExecutor(clients) as pool:
        results = [r for rs in pool.map(client_run, range(clients)) for r in rs]
    return {
        "errors": [s for _, _, s in results if s.startswith("error")],
        "differs": sum(s == "differs" for _, _, s in results),
        "latency": {e: sorted(ms for ep, ms, _ in results if ep == e) for e, _, _ in CALLS
                    if any(ep == e for ep, _, _ in results)},
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.load",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=30, help="per client and round (default: 30)")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    from gradio_client import Client, handle_file

    upload_dir = Path(tempfile.mkdtemp(prefix="load-uploads-"))
    proc, url = start_app(GRADIO_TEMP_DIR=str(upload_dir))
    try:
        client = Client(url, verbose=False)
        expected = [comparable(e, client.predict(handle_file(str(f)), *a, api_name=e))
                    for e, f, a in CALLS]  # serial answers; every model is loaded now
        print(f"{args.clients} clients x {args.requests} mixed requests, {args.rounds} rounds, "
              f"to {url}")
        print(f"after the serial pass: memory {rss_mb(proc.pid):.0f} MB, upload folder "
              "%.2f MB in %d files" % folder_mb(upload_dir))
        for r in range(1, args.rounds + 1):
            t0 = time.perf_counter()
            got = one_round(url, args.clients, args.requests, expected)
            wall = time.perf_counter() - t0
            n = args.clients * args.requests
            print(f"round {r}: {n} requests in {wall:.1f} s, {len(got['errors'])} errors, "
                  f"{got['differs']} answers differ from the serial ones")
            for error in sorted(set(got["errors"]))[:5]:
                print(f"  {error}")
            for endpoint, ms in got["latency"].items():
                print(f"  {endpoint:<10} p50 {statistics.median(ms):7.0f} ms   "
                      f"p95 {ms[int(0.95 * (len(ms) - 1))]:7.0f} ms   (n={len(ms)})")
            print(f"  memory {rss_mb(proc.pid):.0f} MB, upload folder "
                  "%.2f MB in %d files" % folder_mb(upload_dir))
    finally:
        proc.terminate()
        proc.wait(30)
    print("after shutdown: upload folder %.2f MB in %d files" % folder_mb(upload_dir))


if __name__ == "__main__":
    main()
