"""Diagnostic (issue 14, session 15): bench_extract.py with the segment search's group bar removed.

Every call is ``find_instances(X, lo, hi, random_state=seed, min_group_score=-1e9)``: the best
group is always reported, so F1 is the ceiling any bar rule could reach on these recordings (a bar
only removes groups). Not a candidate: without a bar nothing-found fails by construction, and
match() runs with its bar removed too (its cut still adapts).

    python benchmarks/dev_nobar.py --sets heldout --n 40 --no-stumpy --no-extras --recipe eval_bands \
        --out benchmarks/results/nobar
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B

from tenfold import extract

NO_BAR = -1e9          # below every group score (silhouette x size >= -size)


def find_without_bar(X, lo, hi, recipe, seed):
    if recipe not in ("eval", "eval_bands"):
        raise SystemExit(f"--recipe {recipe}: only eval / eval_bands (default arguments) are diagnosed")
    return extract.find_instances(X, lo, hi, random_state=seed, min_group_score=NO_BAR)


if __name__ == "__main__":
    B.find = find_without_bar
    sys.exit(B.main(sys.argv[1:]))
