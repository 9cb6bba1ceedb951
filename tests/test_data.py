import gzip
import struct

import numpy as np
import pytest

from training.data import DataNotFoundError, read_idx, read_split, train_val_split


def write_idx(path, array, compress):
    if array.ndim == 3:
        header = struct.pack(">IIII", 2051, *array.shape)
    else:
        header = struct.pack(">II", 2049, len(array))
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_reader_reads_files_it_did_not_write(tmp_path, compress):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    labels = np.array([7, 0, 9])
    write_idx(tmp_path / ("im.gz" if compress else "im"), images, compress)
    write_idx(tmp_path / ("lb.gz" if compress else "lb"), labels, compress)
    assert (read_idx(tmp_path / ("im.gz" if compress else "im")) == images).all()
    assert read_idx(tmp_path / ("lb.gz" if compress else "lb")).tolist() == [7, 0, 9]


def test_truncated_and_foreign_files_are_refused(tmp_path):
    (tmp_path / "bad").write_bytes(struct.pack(">IIII", 2051, 2, 28, 28) + b"\0" * 100)
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "bad")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(tmp_path / "png")


def test_split_reads_a_dataset_folder_of_plain_files(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix, n in (("train", 5), ("t10k", 2)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", np.full((n, 28, 28), 3), False)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(n), False)
    images, labels = read_split(tmp_path, "mnist", "test", download=False)
    assert images.shape == (2, 28, 28) and labels.tolist() == [0, 1]


def test_missing_files_say_what_and_where(tmp_path):
    with pytest.raises(DataNotFoundError, match="t10k-images-idx3-ubyte.gz.*" + tmp_path.name):
        read_split(tmp_path, "fashion-mnist", "test", download=False)


def test_validation_split_is_seeded_and_disjoint():
    train, val = train_val_split(100, 10, seed=3)
    again, _ = train_val_split(100, 10, seed=3)
    assert (train == again).all() and len(val) == 10
    assert not set(train.tolist()) & set(val.tolist())


def test_real_data_has_the_known_shapes(data_dir):
    images, labels = read_split(data_dir, "fashion-mnist", "train", download=False)
    assert images.shape == (60000, 28, 28)
    assert labels.bincount().tolist() == [6000] * 10
