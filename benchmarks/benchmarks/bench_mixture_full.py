"""Full-covariance Gaussian mixtures (GaussianMixture): sample + vjp on W4 (one mixture, K=8,
D=16, N=100,000) and W5 (4,096 mixtures, K=5, D=32, one sample each), and, in the same run, the
diagonal W1 (K=8, D=16, N=100,000) that W4 is compared with (goal: W4 within 3x of W1)."""

import numpy as np

from mixgrad import DiagGaussianMixture, GaussianMixture

THREADS = [1, 2]
DTYPES = ["float64", "float32"]
# name -> (M mixtures or None for a single mixture, K, D, N samples per mixture or None for one)
SPECS = {"W4": (None, 8, 16, 100_000), "W5": (4_096, 5, 32, None)}


def make_full_inputs(name, dtype):
    """means ~ N(0, 1), logits ~ N(0, 1), g ~ N(0, 1); scale_tril with diagonal 0.5 + U(0, 1) and
    strictly lower entries N(0, 0.3^2)."""
    M, K, D, N = SPECS[name]
    rng = np.random.default_rng(0)
    batch = () if M is None else (M,)
    means = rng.standard_normal((*batch, K, D))
    tril = np.tril(0.3 * rng.standard_normal((*batch, K, D, D)), -1)
    tril += (0.5 + rng.uniform(size=(*batch, K, D)))[..., None] * np.eye(D)
    logits = rng.standard_normal((*batch, K))
    g = rng.standard_normal(((N,) if N is not None else ()) + batch + (D,))
    return GaussianMixture(logits.astype(dtype), means.astype(dtype), tril.astype(dtype)), g.astype(dtype), N


class FullSampleVjp:
    """W4 and W5 sample + vjp (the fused one-pass call and the two calls)."""

    params = (list(SPECS), THREADS, DTYPES)
    param_names = ["workload", "threads", "dtype"]
    timeout = 180

    def setup(self, workload, threads, dtype):
        self.mix, self.g, self.n = make_full_inputs(workload, dtype)

    def time_sample_and_vjp_fused(self, workload, threads, dtype):
        self.mix.sample_and_vjp(self.n, self.g, seed=1, nthreads=threads)

    def peakmem_sample_and_vjp_fused(self, workload, threads, dtype):
        self.mix.sample_and_vjp(self.n, self.g, seed=1, nthreads=threads)

    def time_sample_vjp(self, workload, threads, dtype):
        x = self.mix.sample(self.n, seed=1, nthreads=threads)
        self.mix.vjp(x, self.g, nthreads=threads)

    def peakmem_sample_vjp(self, workload, threads, dtype):
        x = self.mix.sample(self.n, seed=1, nthreads=threads)
        self.mix.vjp(x, self.g, nthreads=threads)


class DiagW1SameRun:
    """The diagonal W1 (K=8, D=16, N=100,000) sample + vjp, for the W4 / W1 ratio."""

    params = (THREADS,)
    param_names = ["threads"]
    timeout = 120

    def setup(self, threads):
        rng = np.random.default_rng(0)
        K, D = 8, 16
        self.mix = DiagGaussianMixture(
            rng.standard_normal(K), rng.standard_normal((K, D)), 0.5 + rng.uniform(size=(K, D))
        )
        self.g = rng.standard_normal((100_000, D))

    def time_sample_and_vjp_fused(self, threads):
        self.mix.sample_and_vjp(100_000, self.g, seed=1, nthreads=threads)


class FullTransforms:
    """W4's mixture, 10,000 rows: quantile, cdf_transform, log_prob."""

    params = (THREADS,)
    param_names = ["threads"]

    def setup(self, threads):
        self.mix, _, _ = make_full_inputs("W4", "float64")
        self.x = self.mix.sample(10_000, seed=2)
        self.u = self.mix.cdf_transform(self.x)

    def time_quantile(self, threads):
        self.mix.quantile(self.u, nthreads=threads)

    def time_cdf_transform(self, threads):
        self.mix.cdf_transform(self.x, nthreads=threads)

    def time_log_prob(self, threads):
        self.mix.log_prob(self.x, nthreads=threads)

    def peakmem_quantile(self, threads):
        self.mix.quantile(self.u, nthreads=threads)
