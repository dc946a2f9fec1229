"""Package metadata: one version source, absolute README links to the declared repository,
lower-bound extras, typing markers shipped, the sdist without CI files."""

import re
import sys
from pathlib import Path

import pytest

import tenfold

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_has_one_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    source = PYPROJECT["tool"]["scikit-build"]["metadata"]["version"]["input"]
    assert re.search(rf'^__version__ = "{re.escape(tenfold.__version__)}"', (ROOT / source).read_text(), re.M)


def test_readme_links_are_absolute_and_point_at_the_repository():
    repo = PYPROJECT["project"]["urls"]["Repository"]
    links = re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())
    assert links
    for link in links:
        assert re.match(r"https?://", link) or link.startswith("#"), f"relative link {link!r} breaks on PyPI"
        if "github.com" in link:
            assert link.startswith(repo + "/"), link
            # the linked file exists in this checkout
            path = link[len(repo) + 1:].split("/", 2)[-1] if "/blob/" in link else None
            if path:
                assert (ROOT / path).exists(), link


def test_extras_state_lower_bounds_only():
    for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items():
        for req in reqs:
            assert "==" not in req, f"[{extra}] pins {req}: pin in the Makefile/CI, not in an extra"
            assert ">=" in req, f"[{extra}] {req} has no lower bound"


def test_license_and_typing_markers():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "License :: OSI Approved :: MIT License" in PYPROJECT["project"]["classifiers"]
    pkg = Path(tenfold.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (ROOT / "src" / "tenfold" / "_core.pyi").exists()


def test_sdist_excludes_ci_files(tmp_path, monkeypatch):
    build = pytest.importorskip("scikit_build_core.build")
    import tarfile

    monkeypatch.chdir(ROOT)
    name = build.build_sdist(str(tmp_path))
    members = [m.split("/", 1)[1] for m in tarfile.open(tmp_path / name).getnames() if "/" in m]
    assert "LICENSE" in members and "pyproject.toml" in members and "cpp/bindings.cpp" in members
    leaked = [m for m in members if m.split("/")[0] in (".ci", ".github", ".venv", "build", "dist")]
    assert not leaked, leaked
