import os
import socket
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "data"))

# the app's corrections go to a folder of this run, never into the repository
os.environ.setdefault("CORRECTIONS_DIR", tempfile.mkdtemp(prefix="corrections-"))

torch.set_num_threads(min(2, torch.get_num_threads()))

# Slow for a quick local run: the real datasets, a launched app or a browser.
# `python -m pytest -m "not data"` leaves them out; CI runs everything.
SLOW_FIXTURES = {"data_dir", "served", "client", "server"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) \
                or item.module.__name__.endswith("test_browser"):
            item.add_marker(pytest.mark.data)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets. Skipped where they are absent, unless REQUIRE_DATA=1 (CI sets it),
    so a missing data folder fails loudly in CI instead of passing quietly."""
    if not (DATA_DIR / "mnist").is_dir():
        if os.environ.get("REQUIRE_DATA") == "1":
            pytest.fail(f"REQUIRE_DATA=1 but no datasets under {DATA_DIR}")
        pytest.skip(f"datasets not found under {DATA_DIR} (set DATA_DIR)")
    return DATA_DIR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def served():
    """The app launched once for the whole run: (its URL, a gradio_client for it)."""
    import app
    from gradio_client import Client

    port = free_port()
    app.demo.launch(prevent_thread_lock=True, server_port=port, quiet=True,
                    **{k: v for k, v in app.launch_options().items()
                       if k not in ("server_port", "server_name", "js")})
    url = f"http://127.0.0.1:{port}/"
    yield url, Client(url, verbose=False)
    app.demo.close()


@pytest.fixture
def client(served):
    return served[1]
