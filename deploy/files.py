"""Which files go where: the Space gets what the app needs, each model repo one checkpoint.

Nothing else travels: no training code, tests, datasets, virtual environments or caches.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPACE_FILES = ["README.md", "app.py", "requirements.txt", "Dockerfile", ".dockerignore"]
SPACE_FOLDERS = ["classifier", "web", "checkpoints", "examples", "docs"]
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".gradio"}
SKIP_SUFFIXES = {".pyc", ".gz", ".tmp"}


def _keep(path: Path) -> bool:
    rel = path.relative_to(ROOT)
    return (path.is_file() and not SKIP_PARTS & set(rel.parts)
            and not any(p.startswith(".") for p in rel.parts[:-1])
            and path.suffix not in SKIP_SUFFIXES)


def space_files(root: Path = ROOT) -> list[tuple[Path, str]]:
    """(local file, path in the Space repo) for everything the Space needs."""
    files = [root / f for f in SPACE_FILES if (root / f).is_file()]
    for folder in SPACE_FOLDERS:
        files += sorted(p for p in (root / folder).rglob("*") if _keep(p))
    return [(f, f.relative_to(root).as_posix()) for f in files]


def model_files(checkpoint: Path) -> list[tuple[Path, str]]:
    """(local file, path in the model repo) for one checkpoint folder."""
    return [(p, p.name) for p in sorted(checkpoint.iterdir()) if p.is_file()
            and not p.name.startswith(".")]
