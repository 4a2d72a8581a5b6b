"""The code under test: a snapshot for the servers to run, its digest, its commit."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from pathlib import Path

from .config import REPO

# What the servers import: copied at the start (others may be editing the working tree while
# the benchmark runs), unless --live-code.
SNAPSHOT = ("chatkit_backend", "example_project", "benchmarks", "manage.py")


def source_digest(root: Path = REPO) -> str:
    """A digest of the code under test (chatkit_backend/, example_project/)."""
    digest = hashlib.sha256()
    for folder in ("chatkit_backend", "example_project"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            with contextlib.suppress(OSError):
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def snapshot_code(work: Path) -> Path:
    """Copy the code the servers run into ``work``, so edits made meanwhile do not leak in."""
    target = work / "src"
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3*", "media", "results")
    for name in SNAPSHOT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target / name)
    return target


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=5
    ).stdout.strip()


def tree_state() -> str:
    """The commit, and whether the code under test differs from it."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "chatkit_backend", "example_project")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} plus uncommitted changes" if dirty else commit
