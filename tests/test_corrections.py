"""The corrections store: rows written whole, bounded, safe under concurrent writers, pushed
to the Hub by huggingface_hub's CommitScheduler (stubbed at its boundary: no network)."""
import json
import multiprocessing
import threading
from concurrent.futures import Future
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from web.corrections import Corrections, StoreFull, push_every


def photo(h=900, w=600, alpha=255):
    rgba = np.zeros((h, w, 4), np.float32)
    rgba[..., :3] = np.linspace(0, 1, w)[None, :, None]
    rgba[..., 3] = alpha / 255
    return rgba


SEEN = np.eye(28, dtype=np.float32)


def add(store, label="7", **kw):
    return store.add(SEEN, kw.pop("image", photo()), dataset="mnist", model="mnist-cnn",
                     answer="1", label=label)


def test_a_correction_is_a_row_and_two_images(tmp_path):
    store = Corrections(tmp_path)
    row = add(store)
    drawn = add(store, label="4", image=photo(280, 280, alpha=0))  # a transparent drawing
    rows = [json.loads(line) for line in (tmp_path / "train/metadata.jsonl").read_text()
            .splitlines()]
    assert rows == [row, drawn] and store.size()[0] == 2
    assert {k: row[k] for k in ("dataset", "model", "answer", "label")} == \
        {"dataset": "mnist", "model": "mnist-cnn", "answer": "1", "label": "7"}
    seen = np.asarray(Image.open(tmp_path / "train" / row["file_name"]))
    assert seen.shape == (28, 28) and np.array_equal(seen, (SEEN * 255).astype(np.uint8))
    original = Image.open(tmp_path / "train" / row["original_file_name"])
    assert original.format == "JPEG" and original.size == (341, 512)  # 900x600, at most 512
    assert drawn["original_file_name"].endswith(".png")  # transparency kept
    assert set(row) == {"file_name", "original_file_name", "dataset", "model", "answer",
                        "label", "day"}  # nothing about the person


def test_the_store_is_bounded_in_rows_and_bytes(tmp_path):
    store = Corrections(tmp_path / "a", max_rows=2)
    add(store), add(store)
    with pytest.raises(StoreFull, match="full"):
        add(store)
    assert store.size()[0] == 2
    small = Corrections(tmp_path / "b", max_mb=0.05)  # 52 kB: a few corrections
    kept = 0
    with pytest.raises(StoreFull):
        for _ in range(100):
            add(small)
            kept += 1
    rows, size = small.size()
    assert 0 < kept == rows < 100 and size <= 0.05 * 2**20


def _adds(folder, n):
    store = Corrections(folder, max_rows=25)
    for _ in range(n):
        try:
            add(store)
        except StoreFull:
            pass


def test_concurrent_writers_never_corrupt_it_nor_pass_the_bound(tmp_path):
    threads = [threading.Thread(target=_adds, args=(tmp_path, 5)) for _ in range(4)]
    processes = [multiprocessing.get_context("fork").Process(target=_adds, args=(tmp_path, 5))
                 for _ in range(2)]
    for worker in threads + processes:
        worker.start()
    for worker in threads + processes:
        worker.join()
    store = Corrections(tmp_path)
    rows = store.rows()  # every line parses
    assert len(rows) == 25  # 30 tried, 25 allowed
    files = {p.relative_to(tmp_path / "train").as_posix()
             for p in (tmp_path / "train").rglob("*.*") if p.name != "metadata.jsonl"}
    assert files == {r[k] for r in rows for k in ("file_name", "original_file_name")}


class FakeHub:
    """HfApi at its boundary: records the repository made and the commits pushed."""
    def __init__(self):
        self.repos, self.commits = [], []

    def create_repo(self, repo_id, **kw):
        self.repos.append((repo_id, kw))
        return SimpleNamespace(repo_id=repo_id)

    def create_commit(self, repo_id, operations, **kw):
        self.commits.append((repo_id, kw, {op.path_in_repo: op.path_or_fileobj.read()
                                           for op in operations}))
        return SimpleNamespace(oid="0" * 40)

    def run_as_future(self, fn, *args):
        done = Future()
        done.set_result(fn(*args))
        return done


def test_a_scheduler_pushes_the_folder_to_a_hub_dataset(tmp_path):
    hub = FakeHub()
    scheduler = push_every(tmp_path, "someone/corrections", "token", minutes=60, hf_api=hub)
    try:
        store = Corrections(tmp_path, scheduler=scheduler)
        row = add(store)
        scheduler.trigger().result()
        add(store)
        scheduler.trigger().result()
    finally:
        scheduler.stop()
    assert hub.repos == [("someone/corrections",
                          {"private": True, "repo_type": "dataset", "exist_ok": True})]
    (_, first_kw, first), (_, _, second) = hub.commits
    assert first_kw["repo_type"] == "dataset"
    assert set(first) == {"train/metadata.jsonl", "train/" + row["file_name"],
                          "train/" + row["original_file_name"]}  # not the lock file
    assert json.loads(first["train/metadata.jsonl"]) == row
    assert len(second) == 3 and second["train/metadata.jsonl"].count(b"\n") == 2  # new only


def test_training_reads_the_corrections_of_its_dataset(tmp_path):
    from training.data import read_corrections

    store = Corrections(tmp_path)
    add(store, label="7"), add(store, label="3")
    store.add(SEEN, photo(), dataset="fashion-mnist", model="fashion-mnist-cnn",
              answer="Bag", label="Sneaker")
    images, labels = read_corrections(tmp_path, "mnist", repeat=3)
    assert images.shape == (6, 28, 28) and labels.tolist() == [7, 3] * 3
    assert np.array_equal(images[0].numpy(), (SEEN * 255).astype(np.uint8))
    _, clothes = read_corrections(tmp_path, "fashion-mnist")
    assert clothes.tolist() == [7]  # Sneaker


def test_a_training_run_adds_the_corrections(tmp_path, data_dir):
    from training.config import resolve_config
    from training.run import run

    store = Corrections(tmp_path / "corrections")
    add(store, label="7")
    lines = []
    cfg = resolve_config("mnist", "linear", data_dir=str(data_dir), out_dir=str(tmp_path),
                         epochs=1, limit=300, progress=False, extra_data=str(store.root),
                         extra_repeat=4, quick_finish=True)
    folder = run(cfg, log=lines.append)
    assert "adding 1 corrections from" in "\n".join(lines) and (folder / "config.json").is_file()
    assert json.loads((folder / "config.json").read_text())["training"]["extra_data"] == \
        str(store.root)
