"""One REBAR step of the GMM application (n = 1e5 points, K = 8, S = 16) in the C++ core,
against a vectorized numpy version of the same step, and one EM step for scale."""

import numpy as np

import mixgrad
from mixgrad.gmm.em import em_step
from mixgrad.gmm.estimate import estimate_logit_gradient
from mixgrad.gmm.model import MixtureParams
from mixgrad.gmm.numpy_reference import rebar_logit_gradient


def _problem(n, k, d=2, seed=0):
    rng = np.random.default_rng(seed)
    means = 4.0 * rng.normal(size=(k, d))
    x = means[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    return x, MixtureParams(rng.normal(size=k), means, 1.0 + 0.2 * rng.uniform(size=(k, d)), "softmax")


class GMMRebarStep:
    params = ([10**4, 10**5], [1, 2])
    param_names = ["n", "threads"]
    timeout = 300

    def setup(self, n, threads):
        self.x, self.params_ = _problem(n, 8)

    def time_mixgrad(self, n, threads):
        with mixgrad.threads(threads):
            estimate_logit_gradient("rebar", self.x, self.params_, 16, 0, {"temperature": 0.5, "eta": 1.0})

    def peakmem_mixgrad(self, n, threads):
        with mixgrad.threads(threads):
            estimate_logit_gradient("rebar", self.x, self.params_, 16, 0, {"temperature": 0.5, "eta": 1.0})


class GMMRebarStepNumpy:
    params = [[10**4, 10**5]]
    param_names = ["n"]
    timeout = 300

    def setup(self, n):
        self.x, self.params_ = _problem(n, 8)

    def time_numpy(self, n):
        p = self.params_
        rebar_logit_gradient(self.x, p.means, p.scales, p.logits, 16, np.random.default_rng(0))

    def peakmem_numpy(self, n):
        p = self.params_
        rebar_logit_gradient(self.x, p.means, p.scales, p.logits, 16, np.random.default_rng(0))


class GMMEMStep:
    params = [[10**5]]
    param_names = ["n"]

    def setup(self, n):
        self.x, self.params_ = _problem(n, 8)

    def time_em_step(self, n):
        em_step(self.x, self.params_)
