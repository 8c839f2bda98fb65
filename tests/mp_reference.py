"""Reference values of the normal special functions in arbitrary precision (mpmath), valid over
the whole float64 range.

mpmath's erfc overflows internally beyond |x| ~ 1e190, so far tails use the asymptotic series
Phi(-y) = phi(y)/y * sum_k (-1)^k (2k-1)!! / y^(2k), whose truncation error is below the first
omitted term (here < 1e-70 relative for y >= 1e8). Nothing here calls mixgrad.
"""

import math

import mpmath as mp
import numpy as np

DPS = 40
_ASYMPTOTIC = mp.mpf(10) ** 8  # beyond this, the series (6 terms) is exact to ~1e-90


def _tail_series(y):
    """sum_k (-1)^k (2k-1)!! / y^(2k), k = 0..5 (y >= 1e8)."""
    inv = 1 / (y * y)
    total, term = mp.mpf(1), mp.mpf(1)
    for k in range(1, 6):
        term *= -(2 * k - 1) * inv
        total += term
    return total


def log_lower_tail(y):
    """log Phi(-y) for y >= 0 (an mpf)."""
    y = mp.mpf(y)
    if y >= _ASYMPTOTIC:
        return -y * y / 2 - mp.log(y) - mp.log(2 * mp.pi) / 2 + mp.log(_tail_series(y))
    return mp.log(mp.ncdf(-y))


def mills(y):
    """Mills ratio Phi(-y)/phi(y) for y >= 0 (an mpf)."""
    y = mp.mpf(y)
    if y >= _ASYMPTOTIC:
        return _tail_series(y) / y
    return mp.ncdf(-y) / mp.npdf(y)


def ndtr(x):
    x = mp.mpf(x)
    with mp.workdps(DPS):
        if x < 0:
            return mp.exp(log_lower_tail(-x))
        return 1 - mp.exp(log_lower_tail(x))


def log_ndtr(x):
    x = mp.mpf(x)
    with mp.workdps(DPS):
        if x == mp.inf:
            return mp.mpf(0)
        if x < 0:
            return log_lower_tail(-x)
        return mp.log1p(-mp.exp(log_lower_tail(x)))


def erfcx(x):
    x = mp.mpf(x)
    with mp.workdps(DPS):
        ax = abs(x)
        if ax >= _ASYMPTOTIC:  # erfcx(x) = 1/(x sqrt(pi)) sum_k (-1)^k (2k-1)!!/(2x^2)^k
            pos = _tail_series(ax * mp.sqrt(2)) / (ax * mp.sqrt(mp.pi))
        else:
            pos = mp.exp(ax * ax) * mp.erfc(ax)
        return pos if x >= 0 else 2 * mp.exp(ax * ax) - pos


def _log_ndtr_and_slope(x):
    """(log Phi(x), phi(x)/Phi(x)) with one evaluation of Phi."""
    if x <= -_ASYMPTOTIC:
        return log_lower_tail(-x), 1 / mills(-x)
    c = mp.ncdf(x)
    return mp.log(c), mp.npdf(x) / c


def _solve_log_ndtr(target, x0=None):
    """The root x of log Phi(x) = target (target <= log(1/2), an mpf), by Newton in mpmath.

    log Phi is increasing and concave, so Newton converges from any start (after one step it
    approaches the root monotonically from the left). Iterated until a step is below 1e-20
    relative: quadratic convergence leaves an error ~1e-40. ``x0`` (any float, e.g. the value
    under test, for speed) only changes where it starts.
    """
    a = -target
    if x0 is not None and math.isfinite(x0) and x0 <= 0:
        x = mp.mpf(x0)
    elif a > 2:  # the asymptotic root of x^2/2 + log(-x sqrt(2 pi)) = a
        x = -mp.sqrt(2 * a - mp.log(4 * mp.pi * a))
    else:
        x = mp.mpf(0)
    tol = mp.mpf(10) ** -20
    for _ in range(200):
        lx, slope = _log_ndtr_and_slope(x)
        step = (lx - target) / slope
        x -= step
        if abs(step) <= abs(x) * tol:
            return x
    raise RuntimeError(f"Newton did not converge for log Phi(x) = {target}")


def ndtri_exp(log_p, x0=None):
    """Phi^{-1}(exp(log_p)) for log_p <= 0 (``x0``: an optional starting point)."""
    log_p = mp.mpf(log_p)
    with mp.workdps(DPS):
        if log_p == 0:
            return mp.inf
        p = mp.exp(log_p)
        if p < mp.mpf(0.5):
            return _solve_log_ndtr(log_p, x0)
        return -_solve_log_ndtr(mp.log(-mp.expm1(log_p)), None if x0 is None else -x0)


def ndtri(p, x0=None):
    """Phi^{-1}(p) (``x0``: an optional starting point)."""
    p = mp.mpf(p)
    with mp.workdps(DPS):
        if p == 0:
            return -mp.inf
        if p == 1:
            return mp.inf
        if p < mp.mpf(0.5):
            return _solve_log_ndtr(mp.log(p), x0)
        return -_solve_log_ndtr(mp.log(1 - p), None if x0 is None else -x0)


def log_ndtr_diff(a, b):
    """log(Phi(b) - Phi(a)) for a < b, with enough digits for the cancellation of close points."""
    a, b = mp.mpf(a), mp.mpf(b)
    if a >= 0:  # Phi(b) - Phi(a) = Phi(-a) - Phi(-b)
        a, b = -b, -a
    big = max(abs(a), abs(b), 1)
    gap = (b - a) * big
    digits = DPS + 2 * int(mp.log10(big)) + (int(-mp.log10(gap)) if gap < 1 else 0)
    with mp.workdps(digits):
        if b > 0:  # straddles 0: Phi(b) - Phi(a) = 1 - Phi(-b) - Phi(a)
            return mp.log1p(-(mp.exp(log_lower_tail(b)) + mp.exp(log_lower_tail(-a))))
        la, lb = log_lower_tail(-a), log_lower_tail(-b)
        return lb + mp.log(-mp.expm1(la - lb))


def to_float(v):
    """Round an mpf to the nearest float64 (+-inf beyond the range, nan for nan)."""
    if mp.isnan(v):
        return math.nan
    if mp.isinf(v):
        return math.inf if v > 0 else -math.inf
    return float(v)


def ulp_errors(got, exact, dtype=np.float64):
    """|got - exact| in units in the last place of ``dtype`` at the exact value, with ``exact``
    unrounded (mpf values), so that the figures have fractional parts (4.1 ulp, not 4 or 5).

    The unit is the spacing of the binade of |exact| (the subnormal spacing below the normal
    range); an exact value beyond the largest finite number counts as exact if ``got`` is the
    infinity of its sign, and as infinitely wrong otherwise. NaN matches NaN only.
    """
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    fi = np.finfo(dtype)
    out = np.empty(got.size)
    with mp.workdps(DPS):
        for i, (g, e) in enumerate(zip(got, exact)):
            e = mp.mpf(e)
            if mp.isnan(e) or math.isnan(g):
                out[i] = 0.0 if (mp.isnan(e) and math.isnan(g)) else math.inf
                continue
            if mp.isinf(e) or abs(e) > mp.mpf(float(fi.max)) * (1 + mp.mpf(2) ** -(fi.nmant + 2)):
                out[i] = 0.0 if (math.isinf(g) and (g > 0) == (e > 0)) else math.inf
                continue
            if math.isinf(g):
                out[i] = math.inf
                continue
            if e == 0:
                unit = mp.mpf(float(fi.smallest_subnormal))
            else:
                exponent = max(int(mp.floor(mp.log(abs(e), 2))), int(fi.minexp))
                unit = mp.mpf(2) ** (exponent - fi.nmant)
                # floor(log2) can be off by one next to powers of two: settle it exactly
                if abs(e) >= mp.mpf(2) ** (exponent + 1) and exponent + 1 > fi.minexp:
                    unit *= 2
                elif abs(e) < mp.mpf(2) ** exponent and exponent > fi.minexp:
                    unit /= 2
            out[i] = float(abs(mp.mpf(g) - e) / unit)
    return out
