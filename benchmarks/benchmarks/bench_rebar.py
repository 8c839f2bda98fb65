"""Discrete-gradient estimators: REBAR and its peers (per-sample estimates, float64)."""

import numpy as np

import mixgrad as mg

SHAPES = ["1e6x1", "1e4x200"]
_DIMS = {"1e6x1": (10**6, 1), "1e4x200": (10**4, 200)}


class Estimators:
    params = (
        ["rebar", "rebar_optimal_loo", "reinforce", "reinforce_loo", "concrete", "straight_through"],
        SHAPES,
        [1, 2],
    )
    param_names = ["estimator", "BxD", "threads"]

    def setup(self, estimator, shape, threads):
        B, D = _DIMS[shape]
        self.n = B
        self.dist = mg.Bernoulli(np.zeros(D))
        self.obj = mg.Quadratic(0.45)
        name, opts = {
            "rebar": ("rebar", {}),
            "rebar_optimal_loo": ("rebar", {"eta": "optimal", "baseline": "loo"}),
            "reinforce": ("reinforce", {}),
            "reinforce_loo": ("reinforce", {"baseline": "loo"}),
            "concrete": ("concrete", {}),
            "straight_through": ("straight_through", {}),
        }[estimator]
        self.fn = getattr(mg, name)
        self.opts = opts
        self.threads = threads

    def time_estimate(self, estimator, shape, threads):
        self.fn(self.obj, self.dist, self.n, 1, keep_samples=False, nthreads=self.threads, **self.opts)

    def peakmem_estimate(self, estimator, shape, threads):
        self.fn(self.obj, self.dist, self.n, 1, keep_samples=False, nthreads=self.threads, **self.opts)


class RebarVariants:
    """The compare_rebar_torch.py workloads: logistic (fast path), probit and coupled noise,
    per-sample estimates kept or accumulated."""

    params = (["logistic", "probit", "coupled"], SHAPES, [1, 2], [True, False])
    param_names = ["variant", "BxD", "threads", "keep_samples"]

    def setup(self, variant, shape, threads, keep_samples):
        from mixgrad.cli.rebar_workloads import mixgrad_rebar

        B, D = _DIMS[shape]
        self.fn = mixgrad_rebar(B, D, threads, keep_samples, variant=variant)

    def time_rebar(self, variant, shape, threads, keep_samples):
        self.fn()


class Noise:
    params = (["logistic", "gaussian", "categorical"], [1, 2])
    param_names = ["noise", "threads"]

    def setup(self, noise, threads):
        a = np.zeros((1000, 8))
        self.dist = mg.Categorical(a) if noise == "categorical" else mg.Bernoulli(a, noise=noise)
        self.obj = mg.Quadratic(0.3)

    def time_rebar(self, noise, threads):
        mg.rebar(self.obj, self.dist, 100, 1, keep_samples=False, nthreads=threads)


class GMMCategorical:
    """B = 1e5 data points x K = 8 components x S = 16 samples, accumulated (no per-sample arrays)."""

    params = [[1, 2]]
    param_names = ["threads"]

    def setup(self, threads):
        rng = np.random.default_rng(0)
        self.obj = mg.GMMComponentLikelihood(rng.normal(size=(10**5, 2)), rng.normal(size=(8, 2)), np.ones((8, 2)))
        self.dist = mg.Categorical(rng.normal(size=(10**5, 8)))

    def time_rebar(self, threads):
        mg.rebar(self.obj, self.dist, 16, 0, keep_samples=False, nthreads=threads)

    def peakmem_rebar(self, threads):
        mg.rebar(self.obj, self.dist, 16, 0, keep_samples=False, nthreads=threads)


class Exact:
    params = [[10, 16]]
    param_names = ["D"]

    def setup(self, D):
        self.dist = mg.Bernoulli(np.linspace(-1, 1, D))
        self.obj = mg.Quadratic(0.45)

    def time_exact(self, D):
        mg.exact(self.obj, self.dist)


class AntitheticEstimators:
    """DisARM, ARMS (4 draws), RLOO and double control variates on the REBAR workload's f.

    B = n_samples (DisARM: pairs, ARMS: groups of 4 draws), float64, accumulated statistics."""

    params = (["disarm", "arms4", "rloo", "double_cv"], SHAPES, [1, 2])
    param_names = ["estimator", "BxD", "threads"]

    def setup(self, estimator, shape, threads):
        B, D = _DIMS[shape]
        self.n = B
        self.dist = mg.Bernoulli(np.zeros(D))
        self.obj = mg.Quadratic(0.45)
        name, self.opts = {
            "disarm": ("disarm", {}),
            "arms4": ("arms", {"n_draws": 4}),
            "rloo": ("rloo", {}),
            "double_cv": ("double_cv", {}),
        }[estimator]
        self.fn = getattr(mg, name)

    def time_estimate(self, estimator, shape, threads):
        self.fn(self.obj, self.dist, self.n, 1, keep_samples=False, nthreads=threads, **self.opts)

    def time_estimate_keep_samples(self, estimator, shape, threads):
        self.fn(self.obj, self.dist, self.n, 1, keep_samples=True, nthreads=threads, **self.opts)

    def peakmem_estimate(self, estimator, shape, threads):
        self.fn(self.obj, self.dist, self.n, 1, keep_samples=False, nthreads=threads, **self.opts)
