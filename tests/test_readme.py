"""Every Python example in README.md runs as written (in a scratch directory)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    code = BLOCKS[index]
    for extra in ("torch", "zarr", "distributed"):
        if re.search(rf"^\s*(from|import) {extra}\b|tenfold\.{extra}\b", code, re.M):
            pytest.importorskip(extra)
    if "LocalCluster(" in code:  # no dashboard port in tests
        code = code.replace("LocalCluster(n_workers=2)", "LocalCluster(n_workers=2, dashboard_address=None)")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_example"}
    try:
        exec(compile(code, f"README.md example {index + 1}", "exec"), namespace)
    finally:
        client = namespace.get("client")
        if client is not None:
            client.close()
            client.cluster.close()


def test_readme_has_examples():
    assert len(BLOCKS) >= 5
