import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "data"))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets. Skipped where they are absent, unless REQUIRE_DATA=1 (CI sets it),
    so a missing data folder fails loudly in CI instead of passing quietly."""
    if not (DATA_DIR / "mnist").is_dir():
        if os.environ.get("REQUIRE_DATA") == "1":
            pytest.fail(f"REQUIRE_DATA=1 but no datasets under {DATA_DIR}")
        pytest.skip(f"datasets not found under {DATA_DIR} (set DATA_DIR)")
    return DATA_DIR
