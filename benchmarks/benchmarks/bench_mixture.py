"""Diagonal Gaussian mixtures: the workloads of DESIGN.md section 7 (sample + vjp), and the
quantile transform, the distributional transform and the log density. Peers are timed by
benchmarks/compare_mixture_peers.py (same run, ratios)."""

import numpy as np

from mixgrad import DiagGaussianMixture
from mixgrad.cli.mixture_workloads import SPECS, make_inputs

THREADS = [1, 2]


class SampleVjp:
    """W1 (K=8, D=16, N=1e5), W2 (16,384 mixtures, K=10, D=8, one sample each), W3 (K=64, D=32, N=1e4)."""

    params = (list(SPECS), THREADS)
    param_names = ["workload", "threads"]
    timeout = 120

    def setup(self, workload, threads):
        logits, means, scales, self.g = make_inputs(workload)
        self.mix = DiagGaussianMixture(logits, means, scales)
        self.n = SPECS[workload][3]
        self.x = self.mix.sample(self.n, seed=1)

    def time_sample_vjp(self, workload, threads):
        x = self.mix.sample(self.n, seed=1, nthreads=threads)
        self.mix.vjp(x, self.g, nthreads=threads)

    def peakmem_sample_vjp(self, workload, threads):
        x = self.mix.sample(self.n, seed=1, nthreads=threads)
        self.mix.vjp(x, self.g, nthreads=threads)

    def time_sample_and_vjp_fused(self, workload, threads):
        # what the workloads (and compare_mixture_peers.py) run: one pass over the rows
        self.mix.sample_and_vjp(self.n, self.g, seed=1, nthreads=threads)

    def peakmem_sample_and_vjp_fused(self, workload, threads):
        self.mix.sample_and_vjp(self.n, self.g, seed=1, nthreads=threads)

    def time_sample(self, workload, threads):
        self.mix.sample(self.n, seed=1, nthreads=threads)

    def time_vjp(self, workload, threads):
        self.mix.vjp(self.x, self.g, nthreads=threads)

    def time_jvp(self, workload, threads):
        self.mix.jvp(self.x, {"means": self.mix.means}, nthreads=threads)


class QuantileWorkloads:
    """The quantile transform on the rows of W1 and W2 (u = cdf_transform of a sample): compare
    with SampleVjp.time_sample + time_vjp of the same workload (the goal is at most 2.5 times)."""

    params = (["W1", "W2"], THREADS)
    param_names = ["workload", "threads"]
    timeout = 120

    def setup(self, workload, threads):
        logits, means, scales, _ = make_inputs(workload)
        self.mix = DiagGaussianMixture(logits, means, scales)
        self.u = self.mix.cdf_transform(self.mix.sample(SPECS[workload][3], seed=1))

    def time_quantile(self, workload, threads):
        self.mix.quantile(self.u, nthreads=threads)


class QuantileSeparated:
    """The quantile transform on W1's shape with the means spread 4 times wider: after a few
    coordinates one component dominates most rows, whose quantile the solver then takes without
    iterating (W1's overlapping components never dominate)."""

    params = (THREADS,)
    param_names = ["threads"]
    timeout = 120

    def setup(self, threads):
        logits, means, scales, _ = make_inputs("W1")
        self.mix = DiagGaussianMixture(logits, 4.0 * means, scales)
        self.u = self.mix.cdf_transform(self.mix.sample(SPECS["W1"][3], seed=1))

    def time_quantile(self, threads):
        self.mix.quantile(self.u, nthreads=threads)


class Transforms:
    """One mixture K=8, D=16, N=10,000 rows."""

    params = (THREADS,)
    param_names = ["threads"]

    def setup(self, threads):
        logits, means, scales, _ = make_inputs("W1")
        self.mix = DiagGaussianMixture(logits, means, scales)
        self.x = self.mix.sample(10_000, seed=2)
        self.u = self.mix.cdf_transform(self.x)

    def time_quantile(self, threads):
        self.mix.quantile(self.u, nthreads=threads)

    def peakmem_quantile(self, threads):
        self.mix.quantile(self.u, nthreads=threads)

    def time_cdf_transform(self, threads):
        self.mix.cdf_transform(self.x, nthreads=threads)

    def peakmem_cdf_transform(self, threads):
        self.mix.cdf_transform(self.x, nthreads=threads)

    def time_log_prob(self, threads):
        self.mix.log_prob(self.x, nthreads=threads)

    def peakmem_log_prob(self, threads):
        self.mix.log_prob(self.x, nthreads=threads)


class Float32:
    params = (["W1", "W2"],)
    param_names = ["workload"]

    def setup(self, workload):
        logits, means, scales, self.g = make_inputs(workload, dtype=np.float32)
        self.mix = DiagGaussianMixture(logits, means, scales)
        self.n = SPECS[workload][3]

    def time_sample_vjp(self, workload):
        x = self.mix.sample(self.n, seed=1, nthreads=2)
        self.mix.vjp(x, self.g, nthreads=2)

    def time_sample_and_vjp_fused(self, workload):
        self.mix.sample_and_vjp(self.n, self.g, seed=1, nthreads=2)


class LargeMixtureFewSamples:
    """Many parameters, few samples (K = D = 512, N = 2): the vjp's memory is O(threads K D),
    independent of how many chunk partials a large N would use."""

    params = ([2, 4096], [1, 2])
    param_names = ["n", "threads"]
    timeout = 120

    def setup(self, n, threads):
        rng = np.random.default_rng(0)
        K = D = 512
        self.mix = DiagGaussianMixture(rng.normal(size=K), rng.normal(size=(K, D)), 0.5 + rng.uniform(size=(K, D)))
        self.x = self.mix.sample(n, seed=1)
        self.g = np.ones_like(self.x)

    def time_vjp(self, n, threads):
        self.mix.vjp(self.x, self.g, nthreads=threads)

    def peakmem_vjp(self, n, threads):
        self.mix.vjp(self.x, self.g, nthreads=threads)
