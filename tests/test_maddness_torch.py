import copy
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("tenfold.torch")

from conftest import structured_data  # noqa: E402

OP = "tenfold::maddness_matmul"
FAST_FIT = dict(lam=1.0, n_candidates=2)   # skips the lam cross-validation: these tests are not about accuracy


@pytest.fixture(scope="module")
def calib():
    rng = np.random.default_rng(0)
    return torch.from_numpy(structured_data(1500, 40, rng, rank=6, clusters=10, noise=0.05))


@pytest.fixture(scope="module")
def layer_pair(calib):
    torch.manual_seed(0)
    lin = torch.nn.Linear(40, 12)
    return lin, tt.MaddnessLinear.from_linear(lin, calib[:1000], ncodebooks=16, **FAST_FIT).eval()


@pytest.fixture(scope="module")
def net_pair(calib):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(40, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 5)).eval()
    return net, tt.replace_linear(net, calib[:1000], filter_fn=lambda name, m: m.out_features == 32, ncodebooks=8,
                                  **FAST_FIT)


def codes_of(layer, X):
    packed = layer.to_maddness().encode(X.numpy())
    return np.stack([packed & 15, packed >> 4], axis=2).reshape(len(X), -1).astype(np.int64)


def test_eval_is_the_lookup_kernel(calib, layer_pair):
    lin, layer = layer_pair
    X = calib[:300]
    y = layer(X)
    assert y.shape == (300, 12) and y.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), layer.to_maddness().matmul(X.numpy()))
    exact = lin(X).detach()
    assert ((y - exact).norm() / exact.norm()).item() < 0.2
    # Leading shapes, non-contiguous input.
    np.testing.assert_array_equal(layer(X[:60].reshape(3, 4, 5, 40)).reshape(60, 12).numpy(), y[:60].numpy())
    Xt = calib[:300].T.contiguous().T
    assert not Xt.is_contiguous()
    np.testing.assert_array_equal(layer(Xt).numpy(), y.numpy())
    assert "in_features=40" in repr(layer) and "ncodebooks=16" in repr(layer)


def test_train_mode_float_tables_and_exact_gradients(calib, layer_pair):
    _, fitted = layer_pair
    layer = tt.MaddnessLinear.from_config(fitted.config)
    layer.load_state_dict(fitted.state_dict())
    layer.train()
    with torch.no_grad():
        layer.tables.normal_()          # arbitrary tables: the lookups must follow them exactly
        layer.bias.normal_()
    X = calib[:200].clone().requires_grad_(True)
    out = layer(X)
    codes = codes_of(layer, X.detach())
    T, b = layer.tables.detach().numpy(), layer.bias.detach().numpy()
    ref = T[np.arange(16)[None, :], codes].sum(1) + b                  # (n, m)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    G = torch.randn_like(out)
    (out * G).sum().backward()
    # d/dT[c, k, j] = sum of G[i, j] over the rows i whose code c is k; d/dbias = sum of G.
    gT = np.zeros_like(T)
    for c in range(16):
        np.add.at(gT[c], codes[:, c], G.numpy())
    np.testing.assert_allclose(layer.tables.grad.numpy(), gT, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.numpy(), G.numpy().sum(0), rtol=1e-5, atol=1e-5)
    # Straight-through input gradient: G @ (the replaced layer's weight).
    np.testing.assert_allclose(X.grad.numpy(), G.numpy() @ layer.ste_weight.numpy(), rtol=1e-4, atol=1e-5)
    # Without input_grad, the input gets none (its exact gradient is zero).
    cfg = dict(layer.config, input_grad=False)
    bare = tt.MaddnessLinear.from_config(cfg)
    bare.load_state_dict({k: v for k, v in layer.state_dict().items() if k != "ste_weight"})
    X2 = calib[:50].clone().requires_grad_(True)
    bare.train()(X2).sum().backward()
    assert X2.grad is None and bare.tables.grad is not None


def test_eval_quantizes_the_trained_tables(calib, layer_pair):
    _, fitted = layer_pair
    layer = tt.MaddnessLinear.from_config(fitted.config)
    layer.load_state_dict(fitted.state_dict())
    X = calib[:300]
    before = layer.eval()(X)
    with torch.no_grad():
        layer.tables.add_(0.3 * torch.randn_like(layer.tables))   # what an optimizer step does
    float_out = layer.train()(X).detach()
    quant = layer.eval()(X)
    assert not torch.equal(quant, before)
    amm = fitted.to_maddness().set_tables(layer.tables.detach().double().permute(2, 0, 1).numpy(),
                                          layer.bias.detach().double().numpy())
    np.testing.assert_array_equal(quant.numpy(), amm.matmul(X.numpy()))
    # Quantization costs little next to the approximation itself.
    assert ((quant - float_out).norm() / float_out.norm()).item() < 0.03
    # Edited while in eval mode: the next call requantizes.
    with torch.no_grad():
        layer.bias.add_(1.0)
    np.testing.assert_allclose(layer(X).numpy(), quant.numpy() + 1.0, atol=0.02)


def test_fine_tuning_learns_the_tables(calib, layer_pair):
    """An ordinary training loop on the output error, from zeroed tables, gets back to the
    fitted tables' held-out error (ridge, so 1.5x: plain least squares overfits a little)."""
    lin, fitted = layer_pair
    Xtr, Xte = calib[:1000], calib[1000:]
    with torch.no_grad():
        ytr, yte = lin(Xtr), lin(Xte)
    layer = tt.MaddnessLinear.from_config(fitted.config)
    layer.load_state_dict(fitted.state_dict())
    err = lambda: ((layer.eval()(Xte) - yte).norm() / yte.norm()).item()  # noqa: E731
    ridge = err()
    with torch.no_grad():
        layer.tables.zero_()
    assert err() > 0.9
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    layer.train()
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.mse_loss(layer(Xtr), ytr).backward()
        opt.step()
    assert err() < 1.5 * ridge


def test_jit_trace_records_the_operator(calib, net_pair):
    _, fast = net_pair
    a, b = calib[1000:1100], calib[1100:1200]
    with torch.no_grad():
        ea, eb = fast(a), fast(b)
        traced = torch.jit.trace(fast, a)
        assert OP in str(traced.inlined_graph)
        ta, tb = traced(a), traced(b)
    assert not torch.equal(ea, eb)
    assert torch.equal(ta, ea) and torch.equal(tb, eb)          # not the traced input's constant


def test_export_records_the_operator(calib, net_pair):
    _, fast = net_pair
    a, b = calib[1000:1100], calib[1200:1237]
    ep = torch.export.export(fast, (a,), dynamic_shapes=({0: torch.export.Dim("n")},))
    targets = [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]
    assert targets.count("tenfold.maddness_matmul.default") == 2
    with torch.no_grad():
        assert torch.equal(ep.module()(b), fast(b))



@pytest.mark.parametrize("bias,input_grad", [(True, True), (False, False)])
def test_export_of_a_bare_layer(calib, bias, input_grad):
    # A bare MaddnessLinear (not inside a container) failed in torch.export with an IndexError:
    # its own None buffers (sum_cols/sum_npos at split_width 1, ste_weight without input_grad).
    lin = torch.nn.Linear(calib.shape[1], 12, bias=bias)
    layer = tt.MaddnessLinear.from_linear(lin, calib[:800], input_grad=input_grad, **FAST_FIT).eval()
    a, b = calib[1000:1100], calib[1200:1237]
    ep = torch.export.export(layer, (a,), dynamic_shapes=({0: torch.export.Dim("n")},))
    assert [str(n.target) for n in ep.graph.nodes if n.op == "call_function"].count(
        "tenfold.maddness_matmul.default") == 1
    with torch.no_grad():
        ya, yb = ep.module()(a), ep.module()(b)
    assert torch.equal(ya, layer(a)) and torch.equal(yb, layer(b)) and not torch.equal(ya[:37], yb)

def test_compile_records_the_operator(calib, net_pair):
    _, fast = net_pair
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    compiled = torch.compile(fast, backend=backend, fullgraph=True, dynamic=False)
    a, b = calib[1000:1100], calib[1100:1200]
    with torch.no_grad():
        assert torch.equal(compiled(a), fast(a)) and torch.equal(compiled(b), fast(b))
    assert graphs and all("maddness_matmul" in g for g in graphs)


def test_dtype_is_kept(calib, layer_pair):
    _, layer = layer_pair
    X = calib[:100]
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        xd = X.to(dtype)
        y = layer(xd)
        assert y.dtype == dtype and y.shape == (100, 12)
        # The kernel reads float32: the same as converting first.
        assert torch.equal(y, layer(xd.float()).to(dtype))
        assert layer.train()(xd).dtype == dtype
        layer.eval()
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.zeros(3, 40, dtype=torch.int32))


def test_threads_follow_torch(monkeypatch, calib, layer_pair):
    _, layer = layer_pair
    seen = []
    real = tt._ops.Maddness

    class Spy(real):
        def matmul(self, A, out=None, order="F"):
            seen.append(self.n_threads)
            return super().matmul(A, out=out, order=order)

    monkeypatch.setattr(tt._ops, "Maddness", Spy)
    tt._ops._CACHE.clear()
    old = torch.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            torch.set_num_threads(n)
            outs.append(layer(calib[:300]))
    finally:
        torch.set_num_threads(old)
    assert seen == [1, 2]
    assert torch.equal(outs[0], outs[1])


def test_config_and_state_dict(calib):
    torch.manual_seed(0)
    lin = torch.nn.Linear(40, 6, bias=False)
    layer = tt.MaddnessLinear.from_linear(lin, calib[:800], ncodebooks=4, split_width=3, **FAST_FIT).eval()
    assert layer.bias is None and layer.sum_cols is not None and layer.config["split_width"] == 3
    twin = tt.MaddnessLinear.from_config(layer.config)
    assert set(twin.state_dict()) == set(layer.state_dict())
    twin.load_state_dict(layer.state_dict())
    X = calib[800:900]
    assert torch.equal(twin.eval()(X), layer(X))
    assert torch.allclose(twin.train()(X), layer.train()(X))
    layer.eval()
    wrong = tt.MaddnessLinear(40, 6, ncodebooks=8)
    with pytest.raises(RuntimeError, match="size mismatch"):
        wrong.load_state_dict(layer.state_dict(), strict=False)
    for bad in (dict(ncodebooks=3), dict(ncodebooks=0), dict(aggregate="sum"), dict(in_features=0)):
        with pytest.raises(ValueError):
            tt.MaddnessLinear(**{**dict(in_features=40, out_features=6), **bad})
    with pytest.raises(TypeError):
        tt.MaddnessLinear.from_config([40, 6])


def test_replace_linear_copies_unless_inplace(calib, net_pair):
    net, fast = net_pair
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in fast] == ["MaddnessLinear", "ReLU", "MaddnessLinear", "ReLU", "Linear"]
    assert not fast.training and not fast[0].training           # the mode of the layers replaced
    X = calib[1000:]
    with torch.no_grad():
        exact, approx = net(X), fast(X)
    # Two approximate layers in series: errors compound. Still far better than the mean output.
    err = (approx - exact).norm().item()
    assert err / exact.norm().item() < 0.6
    assert err < 0.7 * (exact - exact.mean(0)).norm().item()
    same = tt.replace_linear(net, calib[:200], filter_fn=lambda name, m: name == "4", ncodebooks=4, inplace=True,
                             **FAST_FIT)
    assert same is net and type(net[4]).__name__ == "MaddnessLinear"
    with pytest.raises(ValueError, match="no nn.Linear"):
        tt.replace_linear(fast, calib[:100], filter_fn=lambda name, m: False)
    with pytest.raises(TypeError):
        tt.MaddnessLinear.from_linear(torch.nn.ReLU(), calib)
    with pytest.raises(ValueError, match="in_features"):
        tt.MaddnessLinear.from_linear(torch.nn.Linear(7, 3), calib)


def test_eval_mode_has_no_gradient(calib, layer_pair):
    _, layer = layer_pair
    X = calib[:10].clone().requires_grad_(True)
    out = layer(X).sum()
    with pytest.raises(RuntimeError, match="train"):
        out.backward()
    with pytest.raises(ValueError, match="last dimension 40"):
        layer(torch.zeros(3, 7))


def test_tenfold_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import tenfold; assert tenfold.Maddness\n"
            "try:\n    import tenfold.torch\nexcept ImportError as e:\n    print('ImportError', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ImportError tenfold.torch needs PyTorch" in out.stdout


def test_docstring_examples():
    import doctest

    import tenfold.torch._distill
    import tenfold.torch._linear
    import tenfold.torch._replace

    for mod in (tt, tenfold.torch._distill, tenfold.torch._linear, tenfold.torch._replace):
        assert doctest.testmod(mod).failed == 0


def _distill_setup(calib):
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(40, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 5)).eval()
    fast = tt.replace_linear(net, calib[:1000], filter_fn=lambda name, m: name == "2", ncodebooks=8, **FAST_FIT)
    return net, fast


def test_distill_fits_the_teacher(calib):
    """Without noise the loop must fit the teacher on its rows (held-out gains: the doctest)."""
    net, fast = _distill_setup(calib)
    Xtr, Xte = calib[:1000], calib[1000:]

    def gap(m):
        with torch.no_grad():
            return torch.nn.functional.mse_loss(m(Xtr), net(Xtr)).item()
    fitted = gap(fast)
    with torch.no_grad():
        fast[2].tables.zero_()                    # the loop must learn them back
    before = gap(fast)
    assert before > 5 * fitted
    first = [p.detach().clone() for p in fast[0].parameters()]
    state = torch.get_rng_state()
    seen = []
    twin = copy.deepcopy(fast)
    out = tt.distill(fast, net, Xtr, epochs=3, loss="mse", lr=3e-2, lr_other=0.0, activation_noise=0.0,
                     callback=lambda ep, m: seen.append((ep, m.training)))
    assert out is fast and not fast.training and seen == [(0, False), (1, False), (2, False)]
    assert gap(fast) < 2 * fitted
    assert torch.equal(torch.get_rng_state(), state)             # its own generator
    assert all(torch.equal(a, b) for a, b in zip(first, fast[0].parameters()))  # lr_other=0: frozen
    assert all(p.requires_grad for p in fast.parameters())       # ... and unfrozen afterwards
    # Reproducible for a seed; the float tables moved and eval() requantized them.
    tt.distill(twin, net, Xtr, epochs=3, loss="mse", lr=3e-2, lr_other=0.0, activation_noise=0.0)
    assert torch.equal(twin[2].tables, fast[2].tables) and torch.equal(twin[2].luts, fast[2].luts)
    assert not torch.equal(fast[2].luts, tt.replace_linear(net, calib[:1000], filter_fn=lambda n, m: n == "2",
                                                           ncodebooks=8, **FAST_FIT)[2].luts)
    with torch.no_grad():
        h = fast[:2](Xte[:50])                    # the replaced layer's inputs
    np.testing.assert_array_equal(fast[2](h).numpy(), fast[2].to_maddness().matmul(h.numpy()))
    # The other layers learn with lr_other > 0; KL loss on logits.
    tt.distill(twin, net, Xtr, epochs=1, loss="kl")
    assert not all(torch.equal(a, b) for a, b in zip(first, twin[0].parameters()))


def test_distill_rejects_bad_arguments(calib):
    net, fast = _distill_setup(calib)
    X = calib[:100]
    for kw, err in ((dict(epochs=-1), ValueError), (dict(epochs=1.5), TypeError), (dict(batch_size=0), ValueError),
                    (dict(lr=0.0), ValueError), (dict(lr_other=-1.0), ValueError), (dict(loss="l1"), ValueError),
                    (dict(loss=3), TypeError), (dict(activation_noise=float("nan")), ValueError),
                    (dict(callback=1), TypeError)):
        with pytest.raises(err):
            tt.distill(fast, net, X, **kw)
    with pytest.raises(ValueError, match="no MaddnessLinear"):
        tt.distill(net, net, X)
    with pytest.raises(TypeError, match="inputs"):
        tt.distill(fast, net, X.numpy())
    with pytest.raises(ValueError, match="at least one row"):
        tt.distill(fast, net, X[:0])


def test_replace_linear_sequential_fits_on_the_replaced_activations(calib):
    """sequential=True: layer 2 is fitted on what layer 0, already replaced, gives it (not on the
    exact model's activations); layer 0 is fitted as before."""
    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Linear(40, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 5)).eval()
    pick = dict(filter_fn=lambda name, m: m.out_features == 32, ncodebooks=8, **FAST_FIT)
    plain = tt.replace_linear(net, calib[:1000], **pick)
    seq = tt.replace_linear(net, calib[:1000], sequential=True, **pick)
    assert [type(m).__name__ for m in seq] == ["MaddnessLinear", "ReLU", "MaddnessLinear", "ReLU", "Linear"]
    assert all(torch.equal(a, b) for a, b in zip(seq[0].state_dict().values(), plain[0].state_dict().values()))
    with torch.no_grad():
        h = plain[:2](calib[:1000])               # layer 2's inputs with layer 0 replaced (eval: the kernel)
    want = tt.MaddnessLinear.from_linear(net[2], h, ncodebooks=8, **FAST_FIT)
    for key, v in want.state_dict().items():
        assert torch.equal(seq[2].state_dict()[key], v), key
    assert not torch.equal(seq[2].luts, plain[2].luts)
    with pytest.raises(TypeError, match="sequential"):
        tt.replace_linear(net, calib[:100], sequential=1, **pick)


def test_distill_fine_tunes_signed_sum_layers(calib):
    """split_width > 1 (each split on a signed sum of columns; the digits MLP's better recipe at
    C=16): train() looks the float tables up at the codes of the sums, distill learns them, and
    eval() is the kernel with the tuned tables."""
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(40, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 5)).eval()
    fast = tt.replace_linear(net, calib[:1000], filter_fn=lambda name, m: name == "2", ncodebooks=8, split_width=4,
                             **FAST_FIT)
    layer = fast[2]
    assert layer.split_width == 4 and layer.sum_cols is not None
    with torch.no_grad():
        H = net[1](net[0](calib[:200]))          # what layer 2 sees
        out = layer.train()(H)
    codes = codes_of(layer, H)
    T, b = layer.tables.detach().numpy(), layer.bias.detach().numpy()
    np.testing.assert_allclose(out.numpy(), T[np.arange(8)[None, :], codes].sum(1) + b, rtol=1e-5, atol=1e-5)
    Xtr = calib[:1000]

    def gap(m):
        with torch.no_grad():
            return torch.nn.functional.mse_loss(m.eval()(Xtr), net(Xtr)).item()
    fitted = gap(fast)
    with torch.no_grad():
        layer.tables.zero_()                     # the loop must learn them back
    assert gap(fast) > 5 * fitted
    tt.distill(fast, net, Xtr, epochs=3, loss="mse", lr=3e-2, lr_other=0.0, activation_noise=0.0)
    assert gap(fast) < 2 * fitted
    amm = layer.to_maddness()
    with torch.no_grad():
        np.testing.assert_array_equal(layer(H).numpy(), amm.matmul(H.numpy()))
