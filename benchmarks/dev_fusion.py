"""Diagnostic (issue 14, session 16): fuse the bands' DTW distances with the cepstra's on the same segments.

On each development recording (dev_extract_groups' draws, bands front), the segments and the distances
D, R0 are main's; the cepstra c1..c12 of the same 13 MFCCs give a second pair (DTW on
segment_features, no feature-axis warps: on cepstra they mean little). The fused distances are
D / median(D) + w x Dc / median(Dc) (R0 alike), and best_group with main's adaptive bar (z + 2.5 h)
runs on them. Reported at equal nulls (the rule: distinct-word nulls of bdev/dev/wide >= 93%,
the 50 synthetic nulls >= 92%; synthetic series keep their own distances) and with no bar.

    python benchmarks/dev_fusion.py [--out F]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B
import dev_extract_groups as G
import dev_learned_group as L
from _common import tee_output

from tenfold import audio, segments

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
N_BANDS = audio.BANDS_FROM_MFCC


def both(a: np.ndarray) -> np.ndarray:
    """bands_from_mfcc and c1..c12 of one recording's MFCCs, side by side."""
    m = audio.mfcc(a, B.SR)
    return np.hstack([audio.bands_from_mfcc(m), m[:, 1:]])


def recordings() -> list:
    G.FRONTS["both"] = both
    recs = []
    for name, cond, XB, truth, lo, hi in G.draws("both"):
        c = G.Case(XB[:, :N_BANDS], lo, hi)
        if not (c.coverage >= segments.MIN_COVERAGE and len(c.s) >= 3):
            continue                            # the shapelet search decides there, for every w alike
        Zc = segments.segment_features(XB[:, N_BANDS:], c.s, c.e)
        Dc = segments.dtw_distances(Zc, c.s, c.e)
        c.Dc = np.minimum(Dc, Dc.T)
        c.Rc = segments.two_way_distances(Zc, c.s, c.e, segments.rotated_features(Zc, c.s, c.e), c.s, c.e)
        recs.append({"draw": name, "cond": cond, "case": c, "lo": lo, "hi": hi, "n": len(XB), "truth": truth})
    return recs


def rows_at(recs: list, syn: list, w: float) -> list:
    rows = []
    for r in recs + syn:
        c = r["case"]
        D, R = c.D, c.R0
        if w and hasattr(c, "Dc"):
            off = ~np.eye(len(D), dtype=bool)
            mb, mc = np.median(D[off]), np.median(c.Dc[off])
            D, R = D / mb + w * c.Dc / mc, R / mb + w * c.Rc / mc
        m, z = segments.best_group(D, R)
        sig = z + L.ADAPT * segments.neighbour_contrast(D)
        rows.append((r["draw"], r["cond"], sig, 0.0 if r["cond"] == "distinct" else G.group_f1(r, c, m)))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_fusion.py {' '.join(argv if argv is not None else sys.argv[1:])}"):
        recs = recordings()
        syn = [{"draw": "syn_fit", "cond": "distinct", "case": c, "lo": 25, "hi": 60, "n": 0, "truth": []}
               for c in G.synthetic_cases()]
        print(f"{len(recs)} recordings searched on segments; F1@.5 per draw bdev/dev/wide")
        for w in WEIGHTS:
            rows = rows_at(recs, syn, w)
            b = L.equal_null_bar(rows, {"bdev", "dev", "wide", "syn_fit"})
            print(L.line(f"w={w}", rows, b))
            print(f"{'':8s} no bar: vpw_many {L._cond_mean(rows, 'vpw_many', -np.inf):.3f}, "
                  f"vpw few {L._cond_mean(rows, 'vpw_few', -np.inf):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
