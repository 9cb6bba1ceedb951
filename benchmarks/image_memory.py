"""Peak memory that one large image adds to a prediction.

    python -m benchmarks.image_memory

For each image (the largest that are accepted: up to 40 megapixels), a fresh process loads a
model, predicts once on a small image, resets its peak-memory mark (/proc/self/clear_refs),
predicts on the large file and prints how far its peak resident memory rose above the
resident memory before the call. Linux only.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import time
from pathlib import Path
from classifier import load_model

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024

clf = load_model("fashion-mnist-resnet18")
clf.predict({small!r})
before = status("VmRSS:")
Path("/proc/self/clear_refs").write_text("5")  # peak := current
t0 = time.perf_counter()
answer = clf.predict({path!r})
ms = 1000 * (time.perf_counter() - t0)
print(status("VmHWM:") - before, ms, answer)
"""


def make_images(folder: Path) -> dict[str, Path]:
    """Large photos of a dark garment on a light, grainy floor."""
    rng = np.random.default_rng(0)
    out = {}
    for name, (w, h), fmt, mode in [("36 MP PNG, RGB", (6000, 6000), "PNG", "RGB"),
                                    ("40 MP PNG, RGBA", (8000, 5000), "PNG", "RGBA"),
                                    ("40 MP JPEG", (8000, 5000), "JPEG", "RGB"),
                                    ("12 MP phone JPEG", (4000, 3000), "JPEG", "RGB")]:
        img = np.full((h, w, 3), 225, np.uint8)
        img[::2, ::2] += rng.integers(0, 4, (h // 2, w // 2, 1), dtype=np.uint8)  # grain
        img[h // 5:4 * h // 5, w // 3:2 * w // 3] = (40, 50, 120)
        image = Image.fromarray(img).convert(mode)
        path = folder / f"{name.split(',')[0].replace(' ', '-')}-{mode}.{fmt.lower()}"
        image.save(path, format=fmt, quality=90)
        out[name] = path
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small = ROOT / "examples/clothing/photo-coat.jpg"
        for name, path in make_images(Path(tmp)).items():
            code = CHILD.format(small=str(small), path=str(path))
            out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                 text=True)  # cwd: `-c` imports the project from there
            if out.returncode:
                print(f"{name}: failed\n{out.stderr[-2000:]}")
                continue
            added, ms, answer = out.stdout.split()
            print(f"{name:<18} file {path.stat().st_size / 2**20:6.1f} MB   peak memory added "
                  f"{float(added):7.0f} MB   {float(ms):6.0f} ms   ({answer})")


if __name__ == "__main__":
    main()
