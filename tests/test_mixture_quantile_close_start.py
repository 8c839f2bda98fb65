"""The quantile where the solver starts within rounding distance of the root.

The first evaluation of each coordinate is rough (Q and the exponentials to about 5e-12): it
aims the next one and may neither stop a lane nor narrow its bracket unless the sign of h is
sure. Where the start (the component quantiles, weighted) is already that close to the root, a
rough h is within its own error of 0 and says nothing: components whose locations and scales
differ by 1e-13 to 1e-2 of their scale. The root is checked against mpmath at 50 digits, from
u = 1e-300 to 1 - 1e-12, within the error that rounding h in double leaves.
"""

import mpmath as mp
import numpy as np
import pytest

from mixgrad import DiagGaussianMixture

U = (1e-300, 1e-30, 1e-5, 0.3, 0.5, 0.7, 1 - 1e-12)
EPS = np.finfo(float).eps


def _reference(logits, means, scales, u):
    """The root x of log C(x) = log(tail) (C = F below 1/2, S above) by bisection at 50 digits,
    and h'(x) = f(x) / C(x) there."""
    with mp.workdps(50):
        w = [mp.exp(mp.mpf(v)) for v in logits]
        w = [v / sum(w) for v in w]
        u = mp.mpf(u)
        lower = u < 0.5
        sign = 1 if lower else -1
        tail = u if lower else 1 - u
        comps = [(wk, mp.mpf(m), mp.mpf(s)) for wk, m, s in zip(w, means, scales, strict=True)]

        def tail_mass(x):
            return sum(wk * mp.ncdf(sign * (x - m) / s) for wk, m, s in comps)

        reach = max(scales) * mp.sqrt(-2 * mp.log(tail))
        a, b = min(means) - reach - 1, max(means) + reach + 1
        for _ in range(200):
            mid = (a + b) / 2
            if sign * (mp.log(tail_mass(mid)) - mp.log(tail)) < 0:
                a = mid
            else:
                b = mid
        x = (a + b) / 2
        density = sum(wk * mp.npdf((x - m) / s) / s for wk, m, s in comps)
        return x, density / tail_mass(x), mp.log(tail)


@pytest.mark.parametrize("spread", [1e-13, 1e-10, 1e-7, 1e-4, 1e-2])
def test_quantile_matches_mpmath_where_the_start_is_already_close(spread):
    logits = np.array([0.0, 0.3, -0.2])
    means = np.array([0.0, spread, -2 * spread])
    scales = np.array([1.0, 1.0 + spread, 1.0 - spread / 2])
    mix = DiagGaussianMixture(logits, means[:, None], scales[:, None])
    x = mix.quantile(np.array(U)[:, None])[:, 0]
    for row, v in enumerate(U):
        ref, slope, log_tail = _reference(logits, means, scales, v)
        # h = log C - log tail is rounded at about eps (1 + |log tail|); a root to working
        # accuracy is off by that over h', plus the rounding of x itself.
        tol = 16 * EPS * (1 + abs(float(log_tail))) / float(slope) + 2 * np.spacing(max(abs(float(ref)), 1.0))
        err = abs(mp.mpf(x[row]) - ref)
        assert err <= tol, (spread, v, x[row], float(ref), float(err / tol))
