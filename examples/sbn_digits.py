"""Sigmoid belief network on scikit-learn's 8x8 digits: REINFORCE, Concrete and REBAR.

One stochastic layer of H Bernoulli units b; prior p(b) = Bernoulli(sigmoid(a)); decoder
p(x | b) = Bernoulli(sigmoid(dec(b))); encoder q(b | x) = Bernoulli(sigmoid(enc(x))). ``linear``:
enc/dec are affine maps; ``nonlinear``: one tanh hidden layer of 64 units each way.

ELBO(x) = E_q[f(b)] + H(q(b|x)),  f(b) = log p(b) + log p(x|b),

with the entropy analytic (same for every estimator) and the E_q[f] gradient with respect to the
encoder estimated by the mixgrad.torch estimators (decoder and prior get f's own gradient at the
hard sample). Estimators (one sample per data point unless said):

* reinforce_ma  -- REINFORCE with a moving-average baseline;
* reinforce_loo -- REINFORCE with a leave-one-out baseline over 4 samples per data point;
* concrete      -- Concrete relaxation (biased), temperature 0.5;
* rebar         -- REBAR with eta and temperature tuned online on the estimated variance;
* rloo2         -- RLOO over 2 samples per data point (2 evaluations of f);
* disarm2       -- DisARM, one antithetic pair per data point (2 evaluations of f);
* disarm4       -- DisARM, two pairs per data point (4 evaluations, as reinforce_loo);
* arms4         -- ARMS, 4 mutually antithetic draws per data point (4 evaluations);
* double_cv2, double_cv4 -- RLOO over 2 / 4 samples plus the Taylor control variate (Titsias &
                   Shi 2022; one extra gradient of f at E[b]);
* relax         -- RELAX: REBAR plus a learned control variate (a 32-unit tanh network of the
                   noise), trained online on the variance like REBAR's eta and temperature.

Evaluations of f per data point and step: reinforce_ma 1, concrete 1 (relaxed), rebar 3 (hard,
relaxed, conditional relaxed, with backward passes; relax likewise, plus its network), rloo2,
disarm2 and double_cv2 2, reinforce_loo (= RLOO over 4), disarm4, arms4 and double_cv4 4.

Recorded over training: the training ELBO (10 samples per point, analytic entropy) and the log10
variance of the encoder-parameter gradient of one fixed mini-batch of 100 points (variance over
R repeated estimates, averaged over the encoder parameters). At the end all estimators are also
measured at one common model state (the trained REBAR model).

Run:  python examples/sbn_digits.py [--quick] [--out DIR] [--mnist PATH]
Writes DIR/sbn_elbo.png, DIR/sbn_logvar.png and DIR/sbn_table.md and prints the table.

``--mnist PATH`` trains on binarized MNIST instead, from a local copy (nothing is downloaded):
a folder with the fixed binarization of Larochelle & Murray (``binarized_mnist_train.amat``,
``binarized_mnist_test.amat``; ``binarized_mnist_valid.amat`` joins the training set when present),
or an ``.npz`` file with arrays ``x_train`` and ``x_test`` of 0/1 values, one image per row. The
nonlinear nets then have 200 hidden units (as in the REBAR paper's SBN), the linear ones none.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import time

import numpy as np
import torch

import mixgrad.torch as mt

ESTIMATORS = (
    "reinforce_ma",
    "reinforce_loo",
    "concrete",
    "rebar",
    "relax",
    "rloo2",
    "disarm2",
    "double_cv2",
    "disarm4",
    "arms4",
    "double_cv4",
)
TUNED = ("rebar", "relax")  # estimators with control-variate parameters trained on the variance


def load_digits_binary(seed: int = 0):
    """Binarized (pixel >= 8) 8x8 digits, split 1500 train / 297 test."""
    from sklearn.datasets import load_digits

    x = (load_digits().data >= 8).astype(np.float64)
    perm = np.random.default_rng(seed).permutation(len(x))
    x = torch.tensor(x[perm], dtype=torch.float32)
    return x[:1500], x[1500:]


AMAT_FILES = {
    "train": "binarized_mnist_train.amat",
    "valid": "binarized_mnist_valid.amat",
    "test": "binarized_mnist_test.amat",
}


def _check_binary(x: np.ndarray, what: str) -> np.ndarray:
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{what}: expected a 2-D array of images (one per row), got shape {x.shape}")
    if not np.isin(x, (0, 1)).all():
        raise ValueError(f"{what}: values must be 0 or 1 (binarized images); binarize the data first")
    return x.astype(np.float32)


def load_binarized_mnist(path: str):
    """Binarized MNIST (train, test) as float32 tensors of 0/1 from a local copy: a folder of the
    Larochelle & Murray ``.amat`` files (train [+ valid] / test) or an ``.npz`` with ``x_train``
    and ``x_test``. Nothing is downloaded; a missing or malformed file raises a clear error."""
    if os.path.isdir(path):
        parts = {}
        for key, fname in AMAT_FILES.items():
            f = os.path.join(path, fname)
            if os.path.exists(f):
                parts[key] = _check_binary(np.loadtxt(f, ndmin=2), f)
            elif key != "valid":
                raise FileNotFoundError(f"{f} not found (expected {AMAT_FILES['train']} and {AMAT_FILES['test']})")
        train = parts["train"] if "valid" not in parts else np.concatenate([parts["train"], parts["valid"]])
        test = parts["test"]
    elif path.endswith(".npz") and os.path.exists(path):
        with np.load(path) as z:
            missing = {"x_train", "x_test"} - set(z.files)
            if missing:
                raise KeyError(f"{path}: arrays {sorted(missing)} missing (has {sorted(z.files)})")
            train, test = _check_binary(z["x_train"], f"{path}:x_train"), _check_binary(z["x_test"], f"{path}:x_test")
    else:
        raise FileNotFoundError(f"{path}: expected a folder of binarized_mnist_*.amat files or an existing .npz file")
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"train images have {train.shape[1]} pixels, test images {test.shape[1]}")
    return torch.from_numpy(train), torch.from_numpy(test)


class SBN(torch.nn.Module):
    """One-stochastic-layer sigmoid belief network with its factorized encoder."""

    def __init__(self, n_latent: int, nonlinear: bool, n_visible: int = 64, hidden: int = 64):
        super().__init__()
        if nonlinear:
            self.enc = torch.nn.Sequential(
                torch.nn.Linear(n_visible, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, n_latent)
            )
            self.dec = torch.nn.Sequential(
                torch.nn.Linear(n_latent, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, n_visible)
            )
        else:
            self.enc = torch.nn.Linear(n_visible, n_latent)
            self.dec = torch.nn.Linear(n_latent, n_visible)
        self.prior = torch.nn.Parameter(torch.zeros(n_latent))

    def objective(self, x: torch.Tensor):
        """f(b) = log p(b) + log p(x|b), for hard or relaxed b of shape (..., n, H)."""
        ls = torch.nn.functional.logsigmoid

        def f(b):
            log_prior = (b * ls(self.prior) + (1 - b) * ls(-self.prior)).sum(-1)
            lx = self.dec(b)
            log_lik = (x * ls(lx) + (1 - x) * ls(-lx)).sum(-1)
            return log_prior + log_lik

        return f

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        """Entropy of the factorized Bernoulli q, per data point."""
        p = torch.sigmoid(logits)
        return (torch.nn.functional.softplus(logits) - p * logits).sum(-1)


def make_estimator(name: str, n_latent: int):
    if name == "reinforce_ma":
        return mt.Reinforce("bernoulli", baseline="moving_average", decay=0.9), None
    if name == "reinforce_loo":
        return mt.Reinforce("bernoulli", baseline="leave_one_out"), 4
    if name == "concrete":
        return mt.Concrete("bernoulli", temperature=0.5), None
    if name == "rebar":
        return mt.Rebar("bernoulli", eta=1.0, temperature=0.5), None
    if name == "rloo2":
        return mt.Rloo("bernoulli"), 2
    if name == "disarm2":
        return mt.Disarm(), None  # one antithetic pair: 2 evaluations of f
    if name == "disarm4":
        return mt.Disarm(), 2  # two pairs: 4 evaluations
    if name == "arms4":
        return mt.Arms(4), None  # one group of 4 antithetic draws
    if name in ("double_cv2", "double_cv4"):
        return mt.DoubleCV("bernoulli"), int(name[-1])
    if name == "relax":
        net = torch.nn.Sequential(
            torch.nn.Linear(n_latent, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1), torch.nn.Flatten(-2)
        )
        return mt.Relax(net, "bernoulli", eta=1.0, temperature=0.5), None
    raise ValueError(name)


def surrogate_loss(model: SBN, est, n_samples, x: torch.Tensor, gen: torch.Generator):
    """Negative ELBO surrogate of a mini-batch, and the estimator output."""
    logits = model.enc(x)
    out = est(logits, model.objective(x), n_samples=n_samples, generator=gen)
    elbo_sur = out.surrogate.mean() + SBN.entropy(logits).mean()
    return -elbo_sur, out


@torch.no_grad()
def elbo(model: SBN, x: torch.Tensor, gen: torch.Generator, n: int = 10) -> float:
    """Monte Carlo ELBO per data point (n samples per point, analytic entropy), in nats."""
    logits = model.enc(x)
    u = mt.noise.uniform((n, *logits.shape), dtype=logits.dtype, device="cpu", generator=gen)
    _, b = mt.noise.bernoulli_noise(logits.expand(n, *logits.shape), u)
    return float(model.objective(x)(b).mean() + SBN.entropy(logits).mean())


def grad_log_variance(model: SBN, est, n_samples, x: torch.Tensor, gen: torch.Generator, reps: int) -> float:
    """log10 of the mean (over encoder parameters) variance of the encoder gradient estimate."""
    est = copy.deepcopy(est)  # leave baselines / eta untouched
    params = list(model.enc.parameters())
    grads = []
    for _ in range(reps):
        loss, _ = surrogate_loss(model, est, n_samples, x, gen)
        g = torch.autograd.grad(loss, params)
        grads.append(torch.cat([t.flatten() for t in g]).double())
    g = torch.stack(grads)
    return math.log10(float(g.var(0).mean()))


def train(name, nonlinear, n_latent, data, epochs, checkpoints, reps, seed, lr=3e-3, batch=100, hidden=64):
    torch.manual_seed(seed)
    xtr, xte = data
    model = SBN(n_latent, nonlinear, n_visible=xtr.shape[1], hidden=hidden)
    est, n_samples = make_estimator(name, n_latent)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    est_opt = torch.optim.Adam(est.parameters(), lr=lr) if name in TUNED else None
    gen = torch.Generator().manual_seed(seed + 1)
    eval_gen = torch.Generator()
    probe = xtr[:100]
    hist = {"epoch": [], "elbo": [], "logvar": []}
    check = set(np.unique(np.linspace(0, epochs, checkpoints + 1).round().astype(int)).tolist())
    nb = len(xtr) // batch
    t0 = time.perf_counter()
    for epoch in range(epochs + 1):
        if epoch in check:
            hist["epoch"].append(epoch)
            hist["elbo"].append(elbo(model, xtr, eval_gen.manual_seed(1234)))
            hist["logvar"].append(grad_log_variance(model, est, n_samples, probe, eval_gen, reps))
        if epoch == epochs:
            break
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(nb):
            xb = xtr[perm[i * batch : (i + 1) * batch]]
            opt.zero_grad()
            loss, out = surrogate_loss(model, est, n_samples, xb, gen)
            loss.backward()
            if est_opt is not None:  # before opt.step(): the variance graph uses the decoder
                est_opt.zero_grad()
                est.variance_backward(out)
                est_opt.step()
            opt.step()
    hist["seconds"] = time.perf_counter() - t0
    hist["test_elbo"] = elbo(model, xte, eval_gen.manual_seed(4321), n=100)
    if name in TUNED:
        hist["eta"] = float(est.eta.detach().mean())
        hist["temperature"] = est.temperature
    return model, est, n_samples, hist


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short run (about 30 s)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--reps", type=int, default=None, help="repeats per variance measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="sbn_digits_out")
    ap.add_argument("--estimators", nargs="+", choices=ESTIMATORS, default=None, help="subset (rebar always runs)")
    ap.add_argument("--mnist", default=None, help="local binarized MNIST: folder of .amat files or .npz")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    epochs = args.epochs or (15 if args.quick else 300)
    reps = args.reps or (20 if args.quick else 50)
    checkpoints = 5 if args.quick else 10
    data = load_binarized_mnist(args.mnist) if args.mnist else load_digits_binary(args.seed)
    data = tuple(x.to(torch.get_default_dtype()) for x in data)  # the models' dtype
    hidden = 200 if args.mnist else 64
    args.dataset = "binarized MNIST" if args.mnist else "binarized 8x8 digits"
    os.makedirs(args.out, exist_ok=True)
    results = {}
    common = {}
    names = [n for n in ESTIMATORS if args.estimators is None or n in args.estimators or n == "rebar"]
    for variant, nonlinear in (("linear", False), ("nonlinear", True)):
        trained = {}
        for name in names:
            model, est, ns, hist = train(
                name, nonlinear, args.latent, data, epochs, checkpoints, reps, args.seed, hidden=hidden
            )
            trained[name] = (est, ns)
            results[(variant, name)] = hist
            extra = ""
            if name in TUNED:
                extra = f"  eta={hist['eta']:.3f} lambda={hist['temperature']:.3f}"
            print(
                f"[{variant:9s}] {name:14s} train ELBO {hist['elbo'][-1]:8.3f}  test ELBO "
                f"{hist['test_elbo']:8.3f}  log10 Var(grad) first/mean/last "
                f"{hist['logvar'][0]:6.2f}/{np.mean(hist['logvar']):6.2f}/{hist['logvar'][-1]:6.2f}"
                f"  ({hist['seconds']:.1f} s){extra}",
                flush=True,
            )
            if name == "rebar":
                rebar_model = model
        gen = torch.Generator().manual_seed(777)
        for name, (est, ns) in trained.items():
            common[(variant, name)] = grad_log_variance(rebar_model, est, ns, data[0][:100], gen, reps)
    write_outputs(results, common, args, epochs, reps, names)


def write_outputs(results, common, args, epochs, reps, names):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = ("linear", "nonlinear")
    for key, ylabel, fname in (
        ("elbo", "training ELBO (nats)", "sbn_elbo.png"),
        ("logvar", "log10 Var(encoder gradient)", "sbn_logvar.png"),
    ):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, variant in zip(axes, variants):
            for name in names:
                h = results[(variant, name)]
                ax.plot(h["epoch"], h[key], marker="o", ms=3, label=name)
            ax.set_title(f"SBN {args.dataset}, {variant}, H={args.latent}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, fname), dpi=110)
        plt.close(fig)
    lines = [
        f"SBN on {args.dataset}, H={args.latent}, {epochs} epochs, batch 100, Adam 3e-3, "
        f"variance over {reps} repeats of the encoder gradient of one 100-point batch.",
        "",
        "| variant | estimator | train ELBO | test ELBO | log10 Var, mean over training | "
        "log10 Var, end | log10 Var at common state (REBAR model) | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant in variants:
        for name in names:
            h = results[(variant, name)]
            lines.append(
                f"| {variant} | {name} | {h['elbo'][-1]:.2f} | {h['test_elbo']:.2f} | "
                f"{np.mean(h['logvar']):.2f} | {h['logvar'][-1]:.2f} | "
                f"{common[(variant, name)]:.2f} | {h['seconds']:.1f} |"
            )
    for variant in variants:
        h = results[(variant, "rebar")]
        lines.append("")
        lines.append(f"REBAR {variant}: tuned eta = {h['eta']:.3f}, temperature = {h['temperature']:.3f}")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(args.out, "sbn_table.md"), "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
