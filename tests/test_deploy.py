import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from classifier.checkpoint import CHECKPOINTS_DIR, available_models
from deploy.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def dry_run(capsys, *args):
    assert main([*args, "--dry-run"]) == 0
    return capsys.readouterr().out


def test_space_dry_run_lists_the_app_and_checkpoints_and_nothing_else(capsys):
    out = dry_run(capsys, "space", "--repo-id", "someone/demo")
    remote = re.findall(r"-> space:someone/demo/(\S+)", out)
    for needed in ("app.py", "requirements.txt", "README.md", "classifier/predict.py",
                   "web/views.py", "web/sketchpad.js",
                   "examples/digit/7-1.png"):
        assert needed in remote
    for name in available_models():
        assert f"checkpoints/{name}/model.safetensors" in remote
        assert f"checkpoints/{name}/config.json" in remote
    for path in remote:
        assert not path.startswith(("training/", "tests/", "data/", ".venv", ".git/"))
        assert "__pycache__" not in path and not path.endswith((".gz", ".pyc"))
    assert "dry run: nothing uploaded" in out


def test_models_dry_run_gives_each_checkpoint_its_own_repo(capsys):
    out = dry_run(capsys, "models", "--namespace", "someone")
    for name in available_models():
        for file in ("config.json", "model.safetensors", "README.md", "metrics.json"):
            assert f"-> model:someone/{name}/{file}" in out
    assert main(["models", "--namespace", "x", "--only", "mnist-vgg", "--dry-run"]) == 2


def make_cache(cache: Path, repo_id: str, checkpoint: Path) -> None:
    """The layout huggingface_hub keeps downloads in, as if repo_id had been fetched."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in ("config.json", "model.safetensors", "metrics.json"):
        shutil.copy(checkpoint / f, snapshot / f)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_loading_through_the_hub_code_path_offline(tmp_path):
    make_cache(tmp_path / "hub", "someone/mnist-linear", CHECKPOINTS_DIR / "mnist-linear")
    code = ("from classifier import load_model, CheckpointError\n"
            "import numpy as np\n"
            "clf = load_model('someone/mnist-linear')\n"
            "x = np.zeros((28, 28), np.uint8); x[4:24, 13:16] = 255\n"
            "print('loaded', clf.name, clf.predict(x), clf.config['folder'])\n"
            "try:\n    load_model('someone/not-cached')\n"
            "except CheckpointError as err:\n    print('refused', err)\n")
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "loaded mnist-linear 1" in out.stdout and str(tmp_path / "hub") in out.stdout
    assert "refused could not fetch 'someone/not-cached'" in out.stdout


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_readme_front_matter_makes_a_gradio_space_with_the_pinned_gradio():
    meta = front_matter()
    pinned = re.search(r"^gradio(?:\[mcp\])?==(\S+)$", (ROOT / "requirements.txt").read_text(),
                       re.M)[1]
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == pinned
    assert str(meta["python_version"]) == "3.11" and meta["app_file"] == "app.py"
    assert meta["license"] and meta["datasets"] and len(meta["short_description"]) <= 60
    for key in ("title", "emoji", "colorFrom", "colorTo"):
        assert meta[key]


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint not installed (pip install -r requirements-dev.txt)")
    out = subprocess.run([hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 1000" in text and "7860" in text and "HEALTHCHECK" in text
    assert "download.pytorch.org/whl/cpu" in text
