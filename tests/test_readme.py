"""Every example in README.md runs as written and does what its comments claim.

Each ```python block is executed in a scratch directory, then checked through the names it defines
(errors small, round trips exact, shapes as stated). The Dask block is saved to a file and run as a
script in a fresh interpreter, as a reader would. The `tenfold` command lines are run too.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fenced_blocks(text):
    """[(info string, body)] of every ``` fenced block, in order."""
    blocks, info, body = [], None, []
    for line in text.splitlines():
        if line.startswith("```"):
            if info is None:
                info, body = line[3:].strip(), []
            else:
                blocks.append((info, "\n".join(body) + "\n"))
                info = None
        elif info is not None:
            body.append(line)
    assert info is None, "unclosed ``` block in README.md"
    return blocks


BLOCKS = [body for info, body in fenced_blocks(README) if info == "python"]
COMMANDS = [line for info, body in fenced_blocks(README) if info == "" for line in body.splitlines()
            if line.startswith("tenfold ")]
WAV = ROOT / "tests" / "data" / "extract_seven.wav"


def rel_err(approx, exact):
    return float(np.linalg.norm(np.asarray(approx, np.float64) - exact) / np.linalg.norm(exact))


def check_bolt(ns):
    X, index, D, ids, S = ns["X"], ns["index"], ns["D"], ns["I"], ns["S"]
    assert D.shape == ids.shape == (5, 10) and D.dtype == np.float32 and ids.dtype == np.int64
    assert (np.diff(D, axis=1) >= 0).all()                       # best first
    assert S.shape == (5, 100_000)
    np.testing.assert_allclose(np.take_along_axis(S, ids, 1), D, rtol=1e-5, atol=1e-3)   # scores agree with search
    D2, ids2 = index.search(X[:5], k=10)                         # `index` is the reloaded one
    np.testing.assert_array_equal(ids2, ids)
    np.testing.assert_array_equal(D2, D)
    assert (ids[:, 0] == np.arange(5)).all()                     # each query finds itself first


def check_maddness(ns):
    A, B, C, amm = ns["A"], ns["B"], ns["C"], ns["amm"]
    exact = A.astype(np.float64) @ B
    assert C.shape == (1_000, 10) and C.dtype == np.float32 and C.flags.f_contiguous
    assert ns["rel_err"] < 0.35 and abs(ns["rel_err"] - rel_err(C, exact)) < 1e-6
    np.testing.assert_array_equal(amm.matmul(np.asfortranarray(A)), C)   # `amm` is the reloaded model
    assert ns["shared"].objective == "input"
    assert ns["C2"].shape == (1_000, 3) and rel_err(ns["C2"], A.astype(np.float64) @ ns["B2"]) < 0.35


def check_torch(ns):
    import torch

    logits, fast, model = ns["logits"], ns["fast"], ns["model"]
    assert tuple(logits.shape) == (2_000, 10) and logits.dtype == torch.bfloat16      # input dtype kept
    assert torch.isfinite(logits.float()).all()
    assert not any(type(m) is torch.nn.Linear for m in fast.modules())    # every nn.Linear was swapped
    assert sum(type(m) is torch.nn.Linear for m in model.modules()) == 2  # ... in a copy
    with torch.no_grad():
        exact = model(torch.as_tensor(ns["A"][1_000:]))
    assert float(torch.linalg.norm(logits.float() - exact) / torch.linalg.norm(exact)) < 0.7


def check_sprintz(ns):
    x, y, buf = ns["x"], ns["y"], ns["buf"]
    assert y.dtype == x.dtype and y.shape == x.shape and np.array_equal(x, y) and len(buf) < x.nbytes / 2
    from tenfold import sprintz

    back = sprintz.decompress(ns["fbuf"])
    assert back.dtype == ns["prices"].dtype and back.tobytes() == ns["prices"].tobytes()
    assert len(ns["fbuf"]) < ns["prices"].nbytes / 4


def check_extract(ns):
    hits, found = ns["hits"], ns["found"]
    planted = np.array([200, 900, 1500, 2100, 2700])
    assert len(hits) == 5 and np.abs(np.asarray(hits.starts) - planted).max() <= 10, hits.starts
    assert len(found) == 1 and abs(int(found.starts[0]) - 400) <= 10      # the event hidden in `other`
    again = hits.match(ns["other"])                                       # `hits` is the reloaded model
    np.testing.assert_array_equal(again.starts, found.starts)
    np.testing.assert_array_equal(again.ends, found.ends)


def check_bolt_rerank(ns):
    D, ids = ns["D"], ns["I"]
    assert D.shape == ids.shape == (5, 10) and ids.dtype == np.int64
    assert (ids[:, 0] == np.arange(5)).all()          # re-ranked by exact distance: each query finds itself
    assert ns["index"].ntotal == 0                    # reset() emptied it


def check_bolt_ivf(ns):
    X, D, ids, ivf = ns["X"], ns["D"], ns["I"], ns["ivf"]
    assert D.shape == ids.shape == (5, 10) and ids.dtype == np.int64
    assert (ids[:, 0] == np.arange(5)).all() and (np.abs(D[:, 0]) < 1e-2).all()   # each finds itself
    assert (ns["scanned"] < len(X) / 8).all()          # 8 of 128 lists: a small part of the rows
    D2, ids2 = ivf.search(X[:5], k=10, rerank=100, nprobe=8)   # `ivf` is the reloaded (mapped) one
    np.testing.assert_array_equal(ids2, ids)
    np.testing.assert_array_equal(D2, D)


# each block is recognised by a line it contains; a new block must bring its checks
CHECKS = {
    "tenfold.IVFBoltIndex(": check_bolt_ivf,
    "tenfold.BoltIndex(enc)": check_bolt,
    'refine="float32"': check_bolt_rerank,
    "tenfold.Maddness(ncodebooks=16).fit(A_train, B)": check_maddness,
    "replace_linear(model": check_torch,
    "tenfold.sprintz.compress(x)": check_sprintz,
    "tenfold.extract.find_instances(": check_extract,
}
DASK_MARK = "tenfold.dask.ShardedIndex("


def checker(code):
    found = [fn for mark, fn in CHECKS.items() if mark in code]
    assert len(found) == 1, f"README block without exactly one set of checks:\n{code[:300]}"
    return found[0]


@pytest.mark.parametrize("index", [i for i, b in enumerate(BLOCKS) if DASK_MARK not in b])
def test_readme_example(index, tmp_path, monkeypatch):
    code = BLOCKS[index]
    check = checker(code)
    if re.search(r"^\s*(from|import) torch\b|tenfold\.torch\b", code, re.M):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_example"}
    exec(compile(code, f"README.md example {index + 1}", "exec"), namespace)
    check(namespace)


DASK_CHECKS = """
    # appended by tests/test_readme.py: the claims of the comments above
    Xc = X.compute()
    np.testing.assert_array_equal(codes.compute(), enc.encode(Xc))
    single = tenfold.BoltIndex(enc)
    single.add(Xc)
    D1, I1 = single.search(Xc[:10], k=10)
    np.testing.assert_array_equal(I, I1)
    np.testing.assert_array_equal(D, D1)
    D2, I2 = index.search(Xc[:10], k=10)                  # the reloaded index
    np.testing.assert_array_equal(I2, I1)
    np.testing.assert_array_equal(np.asarray(C.compute()), amm.matmul(Xc))
    np.testing.assert_array_equal(x.compute(), signal.compute())
    client.close()
    print("README DASK CHECKS PASSED")
"""


def test_readme_dask_example_as_a_script(tmp_path):
    """Saved to a file and run with `python example.py`: the worker processes re-import it."""
    pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    blocks = [b for b in BLOCKS if DASK_MARK in b]
    assert len(blocks) == 1
    code = blocks[0]
    assert re.search(r'^if __name__ == "__main__":', code, re.M)
    code = code.replace("LocalCluster(n_workers=2)", "LocalCluster(n_workers=2, dashboard_address=None)")
    assert "dashboard_address=None" in code
    script = tmp_path / "example.py"
    script.write_text(code.rstrip() + "\n" + DASK_CHECKS)
    env = {**os.environ, "TENFOLD_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "README DASK CHECKS PASSED" in r.stdout
    assert (tmp_path / "signal.zarr").is_dir() and (tmp_path / "idx").is_dir()


def test_readme_commands(tmp_path):
    """The command lines shown run, in order, on stand-ins for the files they name (`demo` is
    `make demo`'s job, too slow here)."""
    from tenfold.datasets import planted_series

    shutil.copy(WAV, tmp_path / "recording.wav")
    np.save(tmp_path / "x.npy", np.cumsum(np.random.default_rng(0).integers(-3, 4, 50_000)).astype(np.int16))
    np.save(tmp_path / "series.npy", planted_series(2000, 2, 4, 40, 60, seed=1)[0])
    version = metadata.version("tenfold")
    ran = set()
    for command in dict.fromkeys(COMMANDS):   # each distinct line once
        argv = shlex.split(command.split("#")[0])
        if argv[1] == "demo":
            continue
        if "--plot" in argv:
            pytest.importorskip("matplotlib")
        r = subprocess.run([sys.executable, "-m", "tenfold", *argv[1:]], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0 and r.stderr == "", (command, r.stderr)
        ran.add(argv[1])
        if argv[1] in ("info", "--version"):
            assert r.stdout.splitlines()[0] == f"tenfold {version}"
        elif argv[1] == "compress":
            assert "ratio" in r.stdout
        elif argv[1] == "decompress":
            assert np.array_equal(np.load(tmp_path / argv[3]), np.load(tmp_path / "x.npy"))
        else:
            assert re.search(r"\b[1-9]\d* instance\(s\) found", r.stdout), r.stdout
            if "--plot" in argv:
                assert (tmp_path / argv[argv.index("--plot") + 1]).read_bytes()[:4] == b"\x89PNG"
    assert ran >= {"info", "--version", "compress", "decompress", "find-instances"}


def test_readme_has_examples_and_documents_the_command():
    assert len(BLOCKS) >= 6 and len(COMMANDS) >= 1
    assert "## Guarantees" in README
    for code in ("0", "1", "2", "130", "141"):     # the exit status table
        assert re.search(rf"^\| `{code}` \| \w", README, re.M), code
