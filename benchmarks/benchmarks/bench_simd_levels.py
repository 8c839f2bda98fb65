"""One kernel of each family at every instruction-set level this CPU supports (x86-64-v4,
x86-64-v3, baseline; mixgrad.set_simd_level), 1 thread: what each copy of the kernels is worth
on the machine at hand."""

import numpy as np

import mixgrad
import mixgrad.special as S
from mixgrad.cli.mixture_workloads import SPECS, make_inputs

LEVELS = list(mixgrad.supported_simd_levels())


class Levels:
    params = (["ndtr", "log_ndtr", "ndtri", "W1 sample+vjp", "W1 quantile", "rebar B=1e4 D=200"], LEVELS)
    param_names = ["kernel", "level"]
    timeout = 120

    def setup(self, kernel, level):
        self.before = mixgrad.simd_level()
        mixgrad.set_simd_level(level)
        rng = np.random.default_rng(0)
        if kernel in ("ndtr", "log_ndtr"):
            x = 3.0 * rng.standard_normal(10**6)
            fn = getattr(S, kernel)
            out = np.empty_like(x)
            self.run = lambda: fn(x, out=out, nthreads=1)
        elif kernel == "ndtri":
            p = rng.uniform(size=10**6)
            out = np.empty_like(p)
            self.run = lambda: S.ndtri(p, out=out, nthreads=1)
        elif kernel.startswith("W1"):
            logits, means, scales, g = make_inputs("W1")
            mix = mixgrad.DiagGaussianMixture(logits, means, scales)
            n = SPECS["W1"][3]
            if kernel == "W1 quantile":
                u = rng.uniform(size=(n, means.shape[-1]))
                self.run = lambda: mix.quantile(u, nthreads=1)
            else:
                self.run = lambda: mix.sample_and_vjp(n, g, seed=1, nthreads=1)
        else:
            dist, obj = mixgrad.Bernoulli(np.zeros(200)), mixgrad.Quadratic(0.45)
            self.run = lambda: mixgrad.rebar(obj, dist, 10**4, 1, temperature=0.5, eta=1.0, nthreads=1)

    def teardown(self, kernel, level):
        mixgrad.set_simd_level(self.before)

    def time_kernel(self, kernel, level):
        self.run()
