"""What an agent waits for: /classify of a drawn digit as an MCP tool call, against the same
call through gradio_client, on this machine only.

    python -m benchmarks.mcp [--n 30]

Starts `python app.py` on a free 127.0.0.1 port, then alternates three ways of asking
mnist-cnn about the same drawing: an MCP tool call in one open session (streamable HTTP, a
data URL), gradio_client with the same data URL, and gradio_client uploading a PNG file.
Prints the median and p95 of each, in milliseconds, and whether every answer was 7.
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import base64
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.app_speed import start_app
from training.handwriting import handwritten_digit
from web.views import data_url


async def measure(url: str, image: str, png: Path, n: int) -> dict[str, list]:
    from gradio_client import Client, handle_file
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    client = Client(url, verbose=False)
    times: dict[str, list] = {"MCP tool call, data URL": [], "gradio_client, data URL": [],
                              "gradio_client, file upload": []}
    answers = []
    async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for i in range(n + 2):  # the first two of each warm up and are not counted
                t0 = time.perf_counter()
                result = await session.call_tool("classify", {"image": image,
                                                              "model": "mnist-cnn"})
                t1 = time.perf_counter()
                by_url = await asyncio.to_thread(client.predict, image, "mnist-cnn",
                                                 api_name="/classify")
                t2 = time.perf_counter()
                by_file = await asyncio.to_thread(client.predict, handle_file(str(png)),
                                                  "mnist-cnn", api_name="/classify")
                t3 = time.perf_counter()
                if i >= 2:
                    for key, ms in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                        times[key].append(1000 * ms)
                answers += [ast.literal_eval(result.content[0].text)["label"],
                            by_url["label"], by_file["label"]]
    return {"times": times, "all seven": all(a == "7" for a in answers)}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.mcp",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=30)
    args = p.parse_args()
    rgba, _ = handwritten_digit(np.random.default_rng(0), digit="7")
    image = data_url(rgba)
    png = Path(tempfile.mkdtemp()) / "seven.png"
    png.write_bytes(base64.b64decode(image.partition(",")[2]))
    proc, url = start_app()
    try:
        got = asyncio.run(measure(url, image, png, args.n))
    finally:
        proc.terminate()
        proc.wait(30)
    for key, ms in got["times"].items():
        ms = sorted(ms)
        print(f"{key:<28} median {statistics.median(ms):6.1f} ms   "
              f"p95 {ms[int(0.95 * (len(ms) - 1))]:6.1f} ms   (n={len(ms)})")
    print("every answer 7:", got["all seven"])


if __name__ == "__main__":
    main()
