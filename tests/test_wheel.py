"""The wheel from `make wheel` installs into a fresh venv with no compiler on PATH and passes the
test suite there. Takes minutes (a venv, numpy, the suite), so it runs under `make test-wheel`
only (TENFOLD_TEST_WHEEL=1); plain `make test` skips it."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not os.environ.get("TENFOLD_TEST_WHEEL"),
                                reason="builds a venv and reruns the suite: make test-wheel")


def the_wheel():
    wheels = sorted((ROOT / "dist").glob("tenfold-*manylinux*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        pytest.fail("no manylinux wheel in dist/: run make wheel")
    return wheels[-1]


def test_wheel_is_manylinux_and_complete():
    wheel = the_wheel()
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("tenfold/_core") for n in names)
    for required in ("tenfold/py.typed", "tenfold/_core.pyi"):
        assert required in names, required
    assert any(n.endswith("/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") or "LICENSE" in n for n in names)
    assert not any(n.endswith(".cpp") for n in names)


def test_suite_passes_against_installed_wheel(tmp_path):
    wheel = the_wheel()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "--disable-pip-version-check", "-q", "install"]
    subprocess.run([*pip, "numpy>=1.24", "pytest>=7", "hypothesis>=6"], check=True)
    # no compiler reachable: PATH holds the venv alone, and pip may not build anything
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "CXX", "PYTHONPATH", "TENFOLD_TEST_WHEEL")}
    env["PATH"] = str(venv / "bin")
    probe = "import shutil; print([c for c in ('cc', 'gcc', 'g++', 'c++', 'clang++', 'cmake') if shutil.which(c)])"
    assert subprocess.run([str(py), "-c", probe], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"
    subprocess.run([*pip, "--no-deps", "--no-index", "--only-binary=:all:", str(wheel)], env=env, check=True)
    # the suite from a copy, so nothing can import the source tree (the files some tests read
    # besides the package come along; test_packaging checks the source tree's metadata: not here)
    shutil.copytree(ROOT / "tests", tmp_path / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", "test_wheel.py", "test_packaging.py"))
    for name in ("README.md", "CMakeLists.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    where = subprocess.run([str(py), "-c", "import tenfold; print(tenfold.__file__)"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)), where
    result = subprocess.run([str(py), "-m", "pytest", "-q", "-x", "-m", "not fuzz", "-p", "no:cacheprovider",
                             "tests"], env=env, cwd=tmp_path, capture_output=True, text=True)
    tail = "\n".join(result.stdout.splitlines()[-15:])
    assert result.returncode == 0, tail
