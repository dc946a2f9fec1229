"""MADDNESS as a drop-in for ``torch.nn.Linear`` on CPU (needs the ``torch`` extra).

- :func:`replace_linear` returns a copy of a model whose chosen ``nn.Linear`` layers are
  :class:`MaddnessLinear`, each fitted on the inputs it sees on a calibration batch.
- In ``train()`` mode a :class:`MaddnessLinear` computes from the codes and float tables held as
  ``nn.Parameter``s, so an ordinary training loop fine-tunes them (the encoder stays fixed);
  ``eval()`` quantizes them for the uint8 lookup kernel.
- The kernel is a PyTorch operator, ``torch.ops.tenfold.maddness_matmul`` (and
  ``maddness_encode``), so ``torch.jit.trace``, ``torch.export`` and ``torch.compile`` record it.

>>> import torch, tenfold.torch as tt
>>> _ = torch.manual_seed(0)
>>> X = torch.randn(1500, 6) @ torch.randn(6, 32)
>>> y = (X[:, :4].sum(1) > 0).long()
>>> net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
>>> fast = tt.replace_linear(net, X[:1000], filter_fn=lambda name, m: m.out_features == 64, ncodebooks=8)
>>> loss = lambda: torch.nn.functional.cross_entropy(fast(X[:1000]), y[:1000])
>>> opt = torch.optim.Adam(fast.parameters(), lr=1e-2)
>>> before = loss().item()
>>> for _ in range(30):                                    # fine-tunes the tables and the head
...     opt.zero_grad(); loss().backward(); opt.step()
>>> bool(loss().item() < 0.5 * before)
True
>>> with torch.no_grad():
...     hidden = fast.eval()[0](X[1000:].to(torch.bfloat16))   # uint8 lookup kernel, dtype kept
>>> hidden.dtype, hidden.shape
(torch.bfloat16, torch.Size([500, 64]))
"""

try:
    import torch  # noqa: F401
except ImportError as err:  # pragma: no cover
    raise ImportError("tenfold.torch needs PyTorch: pip install 'tenfold[torch]'") from err

from . import _ops  # noqa: F401  (registers torch.ops.tenfold.*)
from ._distill import distill
from ._linear import MaddnessLinear
from ._replace import replace_linear

__all__ = ["MaddnessLinear", "distill", "replace_linear"]
