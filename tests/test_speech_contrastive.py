"""The learned frame embedding of 13 MFCCs (audio.contrastive_from_mfcc, tenfold._speech_contrastive)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenfold import _speech_contrastive as sc
from tenfold import audio, segments

DATA = Path(__file__).parent / "data"


def _mfcc(seed: int = 0, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n * 160 + 400) * np.repeat(rng.uniform(0.01, 1.0, size=n + 3), 160)[: n * 160 + 400]
    return audio.mfcc(x, 16000)


def _naive(C: np.ndarray) -> np.ndarray:
    """The forward pass written out frame by frame, from the raw packaged arrays."""
    with np.load(sc.WEIGHTS_FILE) as f:
        W = {k: f[k].astype(np.float64) for k in f.files}
    k = int(W["context"])
    n, d = C.shape
    mean = [sum(C[t, j] for t in range(n)) / n for j in range(d)]
    sd = [np.sqrt(sum((C[t, j] - mean[j]) ** 2 for t in range(n)) / n) for j in range(d)]
    Z = np.array([[(C[t, j] - mean[j]) / sd[j] for j in range(d)] for t in range(n)])
    out = []
    for t in range(n):
        h = np.concatenate([Z[min(max(t + o, 0), n - 1)] for o in range(-k, k + 1)])
        h = np.maximum(W["w0"].T @ h + W["b0"], 0.0)
        h = np.maximum(W["w1"].T @ h + W["b1"], 0.0)
        h = W["w2"].T @ h + W["b2"]
        h = h / np.sqrt(np.sum(h * h))
        g = 1.0 / (1.0 + np.exp(-sc.GATE_SLOPE * (Z[t, 0] - sc.GATE_LEVEL)))
        out.append(np.concatenate([g * h, np.full(sc.GATE_DIMS, g)]))
    return np.array(out)


def test_shape_dtype_and_determinism():
    C = _mfcc()
    E = audio.contrastive_from_mfcc(C)
    assert E.shape == (len(C), sc.output_dims()) == (len(C), 36)
    assert E.dtype == np.float64 and np.isfinite(E).all()
    np.testing.assert_array_equal(E, audio.contrastive_from_mfcc(C.copy()))
    g = E[:, -sc.GATE_DIMS:]
    assert np.all((g > 0) & (g < 1)) and np.allclose(g, g[:, :1])
    # the embedding part has length g (unit rows times the gate)
    np.testing.assert_allclose(np.linalg.norm(E[:, :-sc.GATE_DIMS], axis=1), g[:, 0], rtol=1e-9)
    np.testing.assert_array_equal(audio.speech_features(np.random.default_rng(1).normal(size=8000), 8000,
                                                        front_end="contrastive"),
                                  audio.contrastive_from_mfcc(audio.mfcc(np.random.default_rng(1).normal(size=8000),
                                                                         8000)))


def test_matches_a_naive_forward_pass():
    C = _mfcc(seed=3, n=40)
    np.testing.assert_allclose(audio.contrastive_from_mfcc(C), _naive(C), rtol=1e-9, atol=1e-12)


def test_per_coefficient_gain_and_offset_cancel():
    """Another MFCC implementation's lifter (a gain per coefficient) or offset changes nothing."""
    C = _mfcc(seed=4)
    lifter = 1.0 + 11.0 * np.sin(np.pi * np.arange(13) / 22.0)
    np.testing.assert_allclose(audio.contrastive_from_mfcc(C * lifter + 3.0), audio.contrastive_from_mfcc(C),
                               rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("bad, exc, word", [
    (np.zeros((50, 12)), ValueError, "mfccs"),
    (np.zeros(50), ValueError, "mfccs"),
    (np.zeros((1, 13)), ValueError, "mfccs"),
    (np.full((50, 13), np.nan), ValueError, "mfccs"),
    (np.array([["a"] * 13] * 5), TypeError, "mfccs"),
])
def test_bad_input_names_the_argument(bad, exc, word):
    with pytest.raises(exc, match=word):
        audio.contrastive_from_mfcc(bad)


def test_changed_weights_are_refused(tmp_path, monkeypatch):
    bad, original = tmp_path / "w.npz", sc.WEIGHTS_FILE
    with np.load(original) as f:
        arrays = {k: f[k].copy() for k in f.files}
    arrays["b1"][0] += np.float32(1e-3)
    np.savez(bad, **arrays)
    monkeypatch.setattr(sc, "WEIGHTS_FILE", bad)
    monkeypatch.setattr(sc, "_cache", {})
    with pytest.raises(RuntimeError, match="checksum"):
        audio.contrastive_from_mfcc(_mfcc())
    arrays["b1"][0] -= np.float32(1e-3)   # the same numbers re-saved (another zip layout) pass
    good = tmp_path / "same.npz"
    np.savez(good, **arrays)
    monkeypatch.setattr(sc, "WEIGHTS_FILE", good)
    assert audio.contrastive_from_mfcc(_mfcc()).shape[1] == 36


def test_repeats_by_other_voices_are_nearer_than_on_the_mel_axis():
    """8 unseen words x 3 voices (2 espeak-ng, 1 flite) at their true bounds (make_contrastive_fixture.py):
    the same word by another voice must be nearer than the same voice's other words more often than
    with bands_from_mfcc (measured: AUC 0.917 against 0.881, nearest segment its word 0.92 against 0.79)."""
    f = np.load(DATA / "contrastive_words.npz")
    M = f["mfcc"].astype(np.float64)
    s, e, w, v = f["starts"], f["ends"], f["words"], f["voices"]

    def separation(X):
        D = segments.warped_distances(X, s, e)
        auc, nn = [], []
        for i in range(len(s)):
            same_voice_other_word = D[i, (w != w[i]) & (v == v[i])]
            for j in np.flatnonzero((w == w[i]) & (v != v[i])):
                auc.append(np.mean(D[i, j] < same_voice_other_word))
            d = D[i].copy()
            d[i] = np.inf
            nn.append(w[np.argmin(d)] == w[i])
        return float(np.mean(auc)), float(np.mean(nn))

    auc_b, nn_b = separation(audio.bands_from_mfcc(M))
    auc_c, nn_c = separation(audio.contrastive_from_mfcc(M))
    assert auc_c >= 0.9 and auc_c > auc_b + 0.02, (auc_c, auc_b)
    assert nn_c >= 0.875 and nn_c > nn_b + 0.08, (nn_c, nn_b)
