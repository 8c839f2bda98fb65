"""Normal special functions: mixgrad against scipy.special on the same inputs."""

import numpy as np

import mixgrad.special as S

try:
    import scipy.special as sc
except ImportError:  # pragma: no cover
    sc = None

SIZES = [10**3, 10**5, 10**7]
THREADS = [1, 2]


def _inputs(name, n):
    rng = np.random.default_rng(0)
    if name in ("ndtri",):
        return rng.uniform(size=n)
    if name == "ndtri_exp":
        return -rng.exponential(5.0, size=n)
    return 3.0 * rng.standard_normal(n)


class _Unary:
    params = (SIZES, THREADS)
    param_names = ["n", "threads"]
    name = ""

    def setup(self, n, threads):
        self.x = _inputs(self.name, n)
        self.out = np.empty_like(self.x)
        self.fn = getattr(S, self.name)

    def time_mixgrad(self, n, threads):
        self.fn(self.x, out=self.out, nthreads=threads)

    def peakmem_mixgrad(self, n, threads):
        self.fn(self.x, nthreads=threads)


class _ScipyPeer:
    params = [SIZES]
    param_names = ["n"]
    name = ""

    def setup(self, n):
        if sc is None or not hasattr(sc, self.name):
            raise NotImplementedError("scipy.special missing")
        self.x = _inputs(self.name, n)
        self.out = np.empty_like(self.x)
        self.fn = getattr(sc, self.name)

    def time_scipy(self, n):
        self.fn(self.x, out=self.out)


class Ndtr(_Unary):
    name = "ndtr"


class LogNdtr(_Unary):
    name = "log_ndtr"


class Ndtri(_Unary):
    name = "ndtri"


class NdtriExp(_Unary):
    name = "ndtri_exp"


class Erfcx(_Unary):
    name = "erfcx"


class ScipyNdtr(_ScipyPeer):
    name = "ndtr"


class ScipyLogNdtr(_ScipyPeer):
    name = "log_ndtr"


class ScipyNdtri(_ScipyPeer):
    name = "ndtri"


class ScipyErfcx(_ScipyPeer):
    name = "erfcx"


class LogNdtrDiff:
    params = ([10**3, 10**5, 10**6], THREADS)
    param_names = ["n", "threads"]

    def setup(self, n, threads):
        rng = np.random.default_rng(0)
        self.a = 3.0 * rng.standard_normal(n)
        self.b = self.a + rng.exponential(1.0, n)

    def time_mixgrad(self, n, threads):
        S.log_ndtr_diff(self.a, self.b, nthreads=threads)
