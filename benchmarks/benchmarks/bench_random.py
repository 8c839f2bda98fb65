"""The Philox generator against numpy's default generator."""

import numpy as np

import mixgrad.random as R

SIZES = [10**3, 10**5, 10**7]


class Uniform:
    params = (SIZES, [1, 2])
    param_names = ["n", "threads"]

    def time_mixgrad(self, n, threads):
        R.uniform(n, seed=1, nthreads=threads)

    def peakmem_mixgrad(self, n, threads):
        R.uniform(n, seed=1, nthreads=threads)


class Normal:
    params = (SIZES, [1, 2])
    param_names = ["n", "threads"]

    def time_mixgrad(self, n, threads):
        R.normal(n, seed=1, nthreads=threads)

    def peakmem_mixgrad(self, n, threads):
        R.normal(n, seed=1, nthreads=threads)


class NumpyPeer:
    params = [SIZES]
    param_names = ["n"]

    def setup(self, n):
        self.rng = np.random.default_rng(1)

    def time_numpy_uniform(self, n):
        self.rng.random(n)

    def time_numpy_normal(self, n):
        self.rng.standard_normal(n)
