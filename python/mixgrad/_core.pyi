# Type stubs for the compiled core, mixgrad._core. The public API is in the mixgrad package;
# these functions take C-contiguous float32/float64 arrays exactly (no conversion).
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", np.float32, np.float64)

__version__: str
has_openmp: bool

# instruction-set level of the kernels
def simd_level() -> str: ...
def supported_simd_levels() -> list[str]: ...
def set_simd_level(level: str) -> None: ...

# threads
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def _explicit_num_threads() -> int: ...
def openmp_default_threads() -> int: ...
def thread_cap() -> int: ...

MAX_THREADS: int

# special functions: out (if given) must have x's size and dtype; nthreads <= 0 means default
def ndtr(x: npt.NDArray[_F], out: npt.NDArray[_F] | None = None, nthreads: int = 0) -> npt.NDArray[_F]: ...
def log_ndtr(x: npt.NDArray[_F], out: npt.NDArray[_F] | None = None, nthreads: int = 0) -> npt.NDArray[_F]: ...
def ndtri(x: npt.NDArray[_F], out: npt.NDArray[_F] | None = None, nthreads: int = 0) -> npt.NDArray[_F]: ...
def ndtri_exp(x: npt.NDArray[_F], out: npt.NDArray[_F] | None = None, nthreads: int = 0) -> npt.NDArray[_F]: ...
def erfcx(x: npt.NDArray[_F], out: npt.NDArray[_F] | None = None, nthreads: int = 0) -> npt.NDArray[_F]: ...
def log_ndtr_diff(
    a: npt.NDArray[_F], b: npt.NDArray[_F], out: npt.NDArray[_F] | None = None, nthreads: int = 0
) -> npt.NDArray[_F]: ...

# the quantile solver's rough forms, for their tests: Q(y) on [0, 10] and e^y for y <= 0
def _scaled_lower_tail_rough(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
def _relative_exp_rough(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...

# random numbers: element i of out gets draw (key, stream, i); float32 uniforms are drawn in float32
def fill_uniform(out: npt.NDArray[_F], k0: int, k1: int, stream: int = 0, nthreads: int = 0) -> None: ...
def fill_normal(out: npt.NDArray[np.float64], k0: int, k1: int, stream: int = 0, nthreads: int = 0) -> None: ...
def philox4x32_10(counter: Sequence[int], key: Sequence[int]) -> list[int]: ...

# diagonal Gaussian mixtures: logits (B, K), means/scales (B, K, D); rows (S*B, D), row i of mixture i % B;
# window (s0, b0, B_whole, S_whole): the rows are samples s0.. of mixtures b0.. of a larger call
# (Philox counters and parameter layout as in that call; zeros: none)
def mixture_log_prob(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scales: npt.NDArray[_F],
    x: npt.NDArray[_F],
    nthreads: int = 0,
    window: Sequence[int] = (0, 0, 0, 0),
) -> npt.NDArray[_F]: ...
def mixture_cdf_transform(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scales: npt.NDArray[_F],
    x: npt.NDArray[_F],
    nthreads: int = 0,
    window: Sequence[int] = (0, 0, 0, 0),
) -> npt.NDArray[_F]: ...
def mixture_log_tail(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scales: npt.NDArray[_F],
    x: npt.NDArray[_F],
    nthreads: int = 0,
    window: Sequence[int] = (0, 0, 0, 0),
) -> npt.NDArray[_F]: ...
def mixture_quantile(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scales: npt.NDArray[_F],
    u: npt.NDArray[_F],
    nthreads: int = 0,
    log_tail: bool = False,
) -> npt.NDArray[_F]: ...
def mixture_sample(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scales: npt.NDArray[_F],
    n_per_mixture: int,
    k0: int,
    k1: int,
    nthreads: int = 0,
    window: Sequence[int] = (0, 0, 0, 0),
) -> npt.NDArray[_F]: ...
def mixture_vjp(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scales: npt.NDArray[_F],
    x: npt.NDArray[_F],
    grad_x: npt.NDArray[_F],
    nthreads: int = 0,
    window: Sequence[int] = (0, 0, 0, 0),
) -> tuple[npt.NDArray[_F], npt.NDArray[_F], npt.NDArray[_F]]: ...
def mixture_sample_vjp(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scales: npt.NDArray[_F],
    n_per_mixture: int,
    k0: int,
    k1: int,
    grad_x: npt.NDArray[_F],
    nthreads: int = 0,
    window: Sequence[int] = (0, 0, 0, 0),
) -> tuple[npt.NDArray[_F], npt.NDArray[_F], npt.NDArray[_F], npt.NDArray[_F]]: ...
def mixture_jvp(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scales: npt.NDArray[_F],
    x: npt.NDArray[_F],
    t_logits: npt.NDArray[_F],
    t_means: npt.NDArray[_F],
    t_scales: npt.NDArray[_F],
    nthreads: int = 0,
) -> npt.NDArray[_F]: ...

# full-covariance Gaussian mixtures: as above with scale_tril (B, K, D, D), lower triangular
def mixture_full_log_prob(
    logits: npt.NDArray[_F], means: npt.NDArray[_F], scale_tril: npt.NDArray[_F], x: npt.NDArray[_F], nthreads: int = 0
) -> npt.NDArray[_F]: ...
def mixture_full_cdf_transform(
    logits: npt.NDArray[_F], means: npt.NDArray[_F], scale_tril: npt.NDArray[_F], x: npt.NDArray[_F], nthreads: int = 0
) -> npt.NDArray[_F]: ...
def mixture_full_log_tail(
    logits: npt.NDArray[_F], means: npt.NDArray[_F], scale_tril: npt.NDArray[_F], x: npt.NDArray[_F], nthreads: int = 0
) -> npt.NDArray[_F]: ...
def mixture_full_quantile(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scale_tril: npt.NDArray[_F],
    u: npt.NDArray[_F],
    nthreads: int = 0,
    log_tail: bool = False,
) -> npt.NDArray[_F]: ...
def mixture_full_sample(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scale_tril: npt.NDArray[_F],
    n_per_mixture: int,
    k0: int,
    k1: int,
    nthreads: int = 0,
) -> npt.NDArray[_F]: ...
def mixture_full_vjp(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scale_tril: npt.NDArray[_F],
    x: npt.NDArray[_F],
    grad_x: npt.NDArray[_F],
    nthreads: int = 0,
) -> tuple[npt.NDArray[_F], npt.NDArray[_F], npt.NDArray[_F]]: ...
def mixture_full_sample_vjp(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scale_tril: npt.NDArray[_F],
    n_per_mixture: int,
    k0: int,
    k1: int,
    grad_x: npt.NDArray[_F],
    nthreads: int = 0,
) -> tuple[npt.NDArray[_F], npt.NDArray[_F], npt.NDArray[_F], npt.NDArray[_F]]: ...
def mixture_full_jvp(
    logits: npt.NDArray[_F],
    means: npt.NDArray[_F],
    scale_tril: npt.NDArray[_F],
    x: npt.NDArray[_F],
    t_logits: npt.NDArray[_F],
    t_means: npt.NDArray[_F],
    t_scale_tril: npt.NDArray[_F],
    nthreads: int = 0,
) -> npt.NDArray[_F]: ...

# discrete-gradient estimators (REBAR and peers): alpha is (R, E) float64; kind 0 logistic,
# 1 probit, 2 categorical; mode 0 rebar, 1 reinforce, 2 concrete, 3 straight-through.
def rebar_estimate(
    kind: int,
    alpha: npt.NDArray[np.float64],
    n_samples: int,
    lam: float,
    coupled: bool,
    k0: int,
    k1: int,
    stream: int,
    mode: int,
    eta: npt.NDArray[np.float64] | None,
    eta_scalar: float,
    baseline: npt.NDArray[np.float64] | None,
    keep_samples: bool,
    want_mean: bool,
    want_stats: bool,
    obj_kind: str,
    obj_arrays: Sequence[npt.NDArray[np.float64] | None],
    nthreads: int = 0,
    row0: int = 0,
    rows_whole: int = 0,
) -> tuple: ...
def rebar_noise(
    kind: int,
    alpha: npt.NDArray[np.float64],
    n_samples: int,
    lam: float,
    coupled: bool,
    k0: int,
    k1: int,
    stream: int,
    nthreads: int = 0,
    row0: int = 0,
    rows_whole: int = 0,
) -> tuple: ...
def rebar_exact(
    kind: int,
    alpha: npt.NDArray[np.float64],
    obj_kind: str,
    obj_arrays: Sequence[npt.NDArray[np.float64] | None],
    nthreads: int = 0,
) -> tuple: ...
def objective_evaluate(
    obj_kind: str,
    obj_arrays: Sequence[npt.NDArray[np.float64] | None],
    x: npt.NDArray[np.float64],
    R: int,
    gradient: bool,
    nthreads: int = 0,
) -> npt.NDArray[np.float64]: ...
def ema_baseline(
    fb: npt.NDArray[np.float64], decay: float, init: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...
def gmm_component_table(
    x: npt.NDArray[np.float64],
    means: npt.NDArray[np.float64],
    scales: npt.NDArray[np.float64],
    log_normalizer: npt.NDArray[np.float64] | None,
    nthreads: int = 0,
) -> npt.NDArray[np.float64]: ...
def arms_estimate(
    alpha: npt.NDArray[np.float64],
    n_samples: int,
    n_draws: int,
    pair: bool,
    k0: int,
    k1: int,
    stream: int,
    keep_samples: bool,
    want_mean: bool,
    draws_only: bool,
    obj_kind: str,
    obj_arrays: Sequence[npt.NDArray[np.float64] | None],
    nthreads: int = 0,
    row0: int = 0,
    rows_whole: int = 0,
    categorical: bool = False,
) -> tuple: ...
