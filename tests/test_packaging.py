"""The wheel a user installs: what it holds, what it needs, and its version.

Built for real (``python -m build --wheel``) from this checkout, into a temporary folder.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import chatkit_backend

# Runs once per Django version: the suite's PostgreSQL run would repeat it unchanged.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="the wheel does not depend on the database: the SQLite run covers it",
)

ROOT = Path(__file__).resolve().parent.parent
# Named by a default setting (the default AUTHENTICATION_CLASSES); imported only by
# chatkit_backend.testing (the live server's bearer tokens).
NAMED_IN_DEFAULTS = {"djangorestframework-simplejwt"}
# Imported only by chatkit_backend.testing (its pytest plugin and live ASGI server), which
# users install with the "testing" extra.
ONLY_UNDER_PYTEST = {"pytest", "uvicorn", "httpx"}
# Imported only when a site uses them (chatkit_doctor runs the site's CORS middleware and reads
# redis-py's version for channels-redis): each must come with an extra instead.
ONLY_WHEN_THE_SITE_HAS_THEM = {"django-cors-headers", "redis"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of what the wheel is made of: setuptools packs whatever an earlier
    # build left in the checkout's build/ folder, modules since moved or deleted included.
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(
        ROOT / "chatkit_backend",
        source / "chatkit_backend",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [built] = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(archive.read(name).decode())


def test_the_wheel_ships_only_chatkit_backend_with_its_data(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {
        "chatkit_backend",
        f"django_chatkit_backend-{chatkit_backend.__version__}.dist-info",
    }
    for expected in (
        "chatkit_backend/py.typed",
        "chatkit_backend/migrations/__init__.py",
        "chatkit_backend/migrations/0001_initial.py",
        "chatkit_backend/templates/chatkit_backend/admin/transcript.html",
        "chatkit_backend/testing/pytest_plugin.py",
    ):
        assert expected in names
    source = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "chatkit_backend").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    assert sorted(name for name in names if name.startswith("chatkit_backend/")) == source


def test_the_version_is_written_in_one_place(metadata):
    assert metadata["Version"] == chatkit_backend.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert chatkit_backend.__version__ not in pyproject


def test_classifiers_name_the_supported_django_and_python(metadata):
    classifiers = metadata.get_all("Classifier")
    for expected in ("Framework :: Django :: 5.2", "Framework :: Django :: 6.1"):
        assert expected in classifiers
    assert metadata["Requires-Python"] == ">=3.11"


def imported_distributions() -> set[str]:
    """The distributions whose modules chatkit_backend imports (standard library aside)."""
    modules = set()
    for path in (ROOT / "chatkit_backend").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    by_module = packages_distributions()
    return {
        canonicalize_name(dist)
        for module in modules - set(sys.stdlib_module_names) - {"chatkit_backend"}
        for dist in by_module.get(module, [module])
    }


def test_core_dependencies_are_what_chatkit_backend_uses(metadata):
    requirements = [Requirement(text) for text in metadata.get_all("Requires-Dist")]
    core = {r.name.lower() for r in requirements if r.marker is None}
    extras = {
        extra: {
            r.name.lower() for r in requirements if r.marker and r.marker.evaluate({"extra": extra})
        }
        for extra in metadata.get_all("Provides-Extra")
    }
    used = imported_distributions() - ONLY_UNDER_PYTEST - ONLY_WHEN_THE_SITE_HAS_THEM
    assert used <= core, f"imported but not declared: {used - core}"
    in_extras = set().union(*extras.values())
    assert "redis" in in_extras or "channels-redis" in extras["redis"]
    assert ONLY_WHEN_THE_SITE_HAS_THEM - {"redis"} <= in_extras
    assert core - used <= NAMED_IN_DEFAULTS
    # What only the example site, a database or a storage needs is an extra the README names.
    assert {"daphne", "dj-database-url", "django-cors-headers"} <= extras["example"]
    assert "psycopg" in extras["postgres"]
    assert "channels-redis" in extras["redis"]
    assert "django-storages" in extras["s3"]
    assert ONLY_UNDER_PYTEST | {"pytest-django"} <= extras["testing"]
    assert not core & {"daphne", "dj-database-url", "django-cors-headers", "psycopg"}
    readme = (ROOT / "README.md").read_text()
    for extra in ("example", "postgres", "redis", "s3", "testing"):
        assert f"[{extra}" in readme or f",{extra}" in readme, extra
