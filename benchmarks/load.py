"""The public API under the crowd: concurrent clients for minutes, on this machine only.

    python -m benchmarks.load [--clients 32] [--minutes 5] [--corrections-max-rows 300]

Starts `python app.py` on a free 127.0.0.1 port with its own upload and corrections folders,
computes every call's answer serially, then lets ``clients`` concurrent clients send a mix of
what people send, one request after another, for ``minutes``: drawings (a canvas's PNG data
URL to /classify and /read_number), photos (an uploaded file to /classify with the default
clothing model), /compare, /explain and /correct. Prints errors, p50/p95 latency per
endpoint, whether each answer equals the serial one, and every 30 s the server's resident
memory, the upload folder and the corrections store (its rows against their bound).
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.app_speed import rss_mb, start_app  # the same server start and memory reading
from training.handwriting import handwritten_digit, handwritten_number

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = sorted((ROOT / "examples/clothing").glob("real-*.jpg"))[:4]
CLOTHING_MODEL = "fashion-mnist-efficientnet-lite0"


def data_url(rgba: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def calls() -> list[tuple[str, str, str | Path, tuple, int]]:
    """(kind, endpoint, image: a data URL or a file to upload, other arguments, weight):
    mostly drawings, as the page gets them."""
    rng = np.random.default_rng(0)
    digits = [handwritten_digit(rng, digit=str(d % 10))[0] for d in range(6)]
    number = handwritten_number(rng, 3)[0]
    out = [("drawing", "/classify", data_url(d), ("mnist-cnn",), 6) for d in digits]
    out += [("drawing", "/read_number", data_url(number), ("mnist-cnn",), 4)]
    out += [("photo", "/classify", p, (CLOTHING_MODEL,), 5) for p in PHOTOS]
    out += [("compare", "/compare", data_url(digits[0]), ("mnist",), 4),
            ("compare", "/compare", PHOTOS[0], ("fashion-mnist",), 2),
            ("explain", "/explain", data_url(digits[1]), ("mnist-cnn", "gradcam", None), 4),
            ("correct", "/correct", data_url(digits[2]), ("mnist-cnn", "9"), 4)]
    return out


def comparable(endpoint: str, answer):
    """What must not change between serial and concurrent calls (latency aside)."""
    if endpoint == "/explain":
        return np.asarray(Image.open(answer)).tobytes()
    if endpoint == "/compare":
        return [(r["model"], r["label"], r["top3"]) for r in answer]
    if endpoint == "/correct":  # kept or refused as full: the answer it corrects stays
        return answer["answer"], answer["label"]
    return answer


def folder_mb(folder: Path) -> tuple[float, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20, len(files)


def rows(folder: Path) -> int:
    metadata = folder / "train" / "metadata.jsonl"
    return len(metadata.read_text().splitlines()) if metadata.is_file() else 0


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.load",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--minutes", type=float, default=5)
    p.add_argument("--corrections-max-rows", type=int, default=300,
                   help="the store's bound, small enough to be reached (default: 300)")
    args = p.parse_args()
    from gradio_client import Client, handle_file

    uploads = Path(tempfile.mkdtemp(prefix="load-uploads-"))
    kept = Path(tempfile.mkdtemp(prefix="load-corrections-"))
    proc, url = start_app(GRADIO_TEMP_DIR=str(uploads), CORRECTIONS_DIR=str(kept),
                          CORRECTIONS_MAX_ROWS=str(args.corrections_max_rows))
    mix = calls()

    def send(client, call):
        _, endpoint, image, rest, _ = call
        image = handle_file(str(image)) if isinstance(image, Path) else image
        return client.predict(image, *rest, api_name=endpoint)

    results, samples, stop = [], [], threading.Event()
    try:
        client = Client(url, verbose=False)
        expected = [comparable(c[1], send(client, c)) for c in mix]  # every model loads now
        print(f"{args.clients} clients for {args.minutes:g} min to {url}; after the serial "
              f"pass: memory {rss_mb(proc.pid):.0f} MB")
        start = time.perf_counter()
        end = start + 60 * args.minutes

        def watch():
            while not stop.is_set():
                samples.append((time.perf_counter() - start, rss_mb(proc.pid),
                                *folder_mb(uploads), rows(kept), folder_mb(kept)[0]))
                stop.wait(5)

        def client_run(k: int) -> None:
            me, pick = Client(url, verbose=False), random.Random(k)
            while time.perf_counter() < end:
                j = pick.choices(range(len(mix)), weights=[c[4] for c in mix])[0]
                t0 = time.perf_counter()
                try:
                    same = comparable(mix[j][1], send(me, mix[j])) == expected[j]
                    status = "same" if same else "differs"
                except Exception as err:  # counted and reported, the run goes on
                    status = f"error: {err}"
                results.append((mix[j][0], mix[j][1], 1000 * (time.perf_counter() - t0),
                                status))

        threading.Thread(target=watch, daemon=True).start()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(client_run, range(args.clients)))
        wall = time.perf_counter() - start
    finally:
        stop.set()
        proc.terminate()
        proc.wait(30)

    errors = [s for *_, s in results if s.startswith("error")]
    print(f"{len(results)} requests in {wall:.0f} s ({len(results) / wall:.1f}/s), "
          f"{len(errors)} errors, {sum(s == 'differs' for *_, s in results)} answers differ "
          "from the serial ones")
    for error in sorted(set(errors))[:5]:
        print(f"  {error}")
    for kind, endpoint in dict.fromkeys((k, e) for k, e, *_ in results):
        ms = sorted(t for k, e, t, _ in results if (k, e) == (kind, endpoint))
        print(f"  {kind:<8} {endpoint:<13} p50 {statistics.median(ms):6.0f} ms   "
              f"p95 {ms[int(0.95 * (len(ms) - 1))]:6.0f} ms   (n={len(ms)})")
    ms = sorted(t for _, e, t, _ in results if e == "/classify")
    print(f"  all /classify          p50 {statistics.median(ms):6.0f} ms   "
          f"p95 {ms[int(0.95 * (len(ms) - 1))]:6.0f} ms   (n={len(ms)})")
    print("  seconds  memory MB  uploads MB (files)  corrections rows (MB)")
    for t, mb, up, files, n, cmb in samples[::6] + samples[-1:]:
        print(f"  {t:7.0f}  {mb:9.0f}  {up:10.1f} ({files:5d})  {n:5d} / "
              f"{args.corrections_max_rows} ({cmb:.2f})")
    warm = [mb for t, mb, *_ in samples if t >= 60] or [samples[-1][1]]
    lines = (kept / "train" / "metadata.jsonl").read_text().splitlines()
    print(f"memory after the first minute: {min(warm):.0f}-{max(warm):.0f} MB; corrections: "
          f"{len(lines)} rows, {sum(bool(json.loads(x)) for x in lines)} of them whole")


if __name__ == "__main__":
    main()
