"""The public API under the crowd: concurrent clients for minutes, on this machine only.

    python -m benchmarks.load [--clients 32] [--minutes 5] [--think 0] [--corrections-max-rows 300]

Starts `python app.py` on a free 127.0.0.1 port with its own upload and corrections folders,
computes every call's answer serially, then lets ``clients`` concurrent clients send a mix of
what people send, one request after another, for ``minutes``: drawings (a canvas's PNG data
URL to /classify and /read_number), photos (uploaded, then /classify with the default
clothing model), /compare, /explain and /correct. The clients speak plain HTTP to Gradio's
queue (``/gradio_api/call/NAME``) from one asyncio loop, so that they leave the 2 cores to
the server as remote visitors would. Prints errors, p50/p95 latency per
endpoint, whether each answer equals the serial one, and every 30 s the server's resident
memory, the upload folder and the corrections store (its rows against their bound).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.app_speed import rss_mb, start_app  # the same server start and memory reading
from training.handwriting import handwritten_digit, handwritten_number
from web.views import data_url  # what a canvas sends

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = sorted((ROOT / "examples/clothing").glob("real-*.jpg"))[:4]
CLOTHING_MODEL = "fashion-mnist-efficientnet-lite0"


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
    if endpoint == "/explain":  # a PNG named by its content
        return Path(answer["path"]).name
    if endpoint == "/compare":
        return [(r["model"], r["label"], r["top3"]) for r in answer]
    if endpoint == "/correct":  # kept or refused as full: the answer it corrects stays
        return answer["answer"], answer["label"]
    return answer


def folder_mb(folder: Path) -> tuple[float, int]:
    total, count = 0, 0
    for p in folder.rglob("*"):
        try:
            total, count = total + p.stat().st_size, count + p.is_file()
        except OSError:  # deleted by the server's pruning meanwhile
            pass
    return total / 2**20, count


def rows(folder: Path) -> int:
    metadata = folder / "train" / "metadata.jsonl"
    return len(metadata.read_text().splitlines()) if metadata.is_file() else 0


async def send(http, url: str, call) -> object:
    """One call as any HTTP client makes it (a photo uploaded first), through Gradio's queue:
    POST /gradio_api/call/NAME, then read its event stream to the end."""
    _, endpoint, image, rest, _ = call
    if isinstance(image, Path):
        files = {"files": (image.name, image.read_bytes(), "image/jpeg")}
        [path] = (await http.post(f"{url}gradio_api/upload", files=files)).json()
        image = {"path": path, "meta": {"_type": "gradio.FileData"}}
    post = await http.post(f"{url}gradio_api/call{endpoint}", json={"data": [image, *rest]})
    event = post.json()["event_id"]
    kind, data = None, None
    async with http.stream("GET", f"{url}gradio_api/call{endpoint}/{event}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind in ("complete", "error"):
                data = line.split(":", 1)[1].strip()
                break
    if kind != "complete":
        raise RuntimeError(f"{endpoint}: {data}")
    return json.loads(data)[0]


async def crowd(url: str, mix: list, expected: list, clients: int, seconds: float,
                think: float = 0.0) -> list:
    """``clients`` clients, each sending one request after another until ``seconds`` pass,
    pausing ``think`` seconds (0.5-1.5 times that, at random) after each answer:
    [(kind, endpoint, ms, "same" | "differs" | "error: ...")]."""
    import httpx

    results = []
    end = time.perf_counter() + seconds

    async def client(k: int) -> None:
        pick = random.Random(k)
        async with httpx.AsyncClient(timeout=120) as http:
            while time.perf_counter() < end:
                j = pick.choices(range(len(mix)), weights=[c[4] for c in mix])[0]
                t0 = time.perf_counter()
                try:
                    same = comparable(mix[j][1], await send(http, url, mix[j])) == expected[j]
                    status = "same" if same else "differs"
                except Exception as err:  # counted and reported, the run goes on
                    status = f"error: {err}"
                results.append((mix[j][0], mix[j][1], 1000 * (time.perf_counter() - t0),
                                status))
                await asyncio.sleep(think * pick.uniform(0.5, 1.5))

    await asyncio.gather(*(client(k) for k in range(clients)))
    return results


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.load",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--minutes", type=float, default=5)
    p.add_argument("--think", type=float, default=0.0,
                   help="seconds a client pauses after each answer, as a person drawing the "
                        "next digit does (default: 0, one request after another)")
    p.add_argument("--corrections-max-rows", type=int, default=300,
                   help="the store's bound, small enough to be reached (default: 300)")
    args = p.parse_args()
    import httpx

    uploads = Path(tempfile.mkdtemp(prefix="load-uploads-"))
    kept = Path(tempfile.mkdtemp(prefix="load-corrections-"))
    proc, url = start_app(GRADIO_TEMP_DIR=str(uploads), CORRECTIONS_DIR=str(kept),
                          CORRECTIONS_MAX_ROWS=str(args.corrections_max_rows))
    mix = calls()
    samples, stop = [], threading.Event()
    try:
        async def serially():
            async with httpx.AsyncClient(timeout=120) as http:
                return [comparable(c[1], await send(http, url, c)) for c in mix]

        expected = asyncio.run(serially())  # every model loads now
        print(f"{args.clients} clients for {args.minutes:g} min, pausing {args.think:g} s, to "
              f"{url}; after the serial "
              f"pass: memory {rss_mb(proc.pid):.0f} MB")
        start = time.perf_counter()

        def watch():
            while not stop.is_set():
                samples.append((time.perf_counter() - start, rss_mb(proc.pid),
                                *folder_mb(uploads), rows(kept), folder_mb(kept)[0]))
                stop.wait(5)

        threading.Thread(target=watch, daemon=True).start()
        results = asyncio.run(crowd(url, mix, expected, args.clients, 60 * args.minutes,
                                    args.think))
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
