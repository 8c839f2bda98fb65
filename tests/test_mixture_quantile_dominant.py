"""The quantile of a coordinate where one component dominates after the earlier coordinates.

The solver returns that component's own quantile without an evaluation when the others weigh
less than 2^-54 min(u, 1 - u) in total, and iterates otherwise. Both paths are checked here
against the root of the full conditional CDF computed with mpmath at 50 digits: two components
on coordinate 0 whose separation moves the weight gap across the threshold, the dominant
component narrower or wider than the other one on coordinate 1 (when it is narrower, a
component of weight e^-50 still owns the far tails), and u from 1e-300 to 1 - 1e-12.
"""

import mpmath as mp
import numpy as np
import pytest

from mixgrad import DiagGaussianMixture, special

U = (1e-300, 1e-30, 1e-5, 0.3, 0.5, 0.7, 1 - 1e-12)


def _reference_second_coordinate(logits, means, scales, x0, u):
    """x_1 with P(X_1 <= x_1 | X_0 = x0) = u, by bisection in log space at 50 digits."""
    with mp.workdps(50):
        ell = [
            mp.mpf(logits[k])
            - mp.log(mp.mpf(scales[k, 0]))
            - (mp.mpf(x0) - mp.mpf(means[k, 0])) ** 2 / (2 * mp.mpf(scales[k, 0]) ** 2)
            for k in range(len(logits))
        ]
        top = max(ell)
        w = [mp.exp(e - top) for e in ell]
        w = [v / sum(w) for v in w]
        u = mp.mpf(u)
        lower = u < 0.5
        sign = 1 if lower else -1
        tail = u if lower else 1 - u

        def excess(x):  # increasing in x
            c = sum(
                wk * mp.ncdf(sign * (x - mp.mpf(m)) / mp.mpf(s))
                for wk, m, s in zip(w, means[:, 1], scales[:, 1], strict=True)
            )
            return sign * (mp.log(c) - mp.log(tail))

        # Every component's quantile, hence the root, has |z| <= sqrt(-2 log tail).
        reach = max(scales[:, 1]) * mp.sqrt(-2 * mp.log(tail))
        a, b = min(means[:, 1]) - reach - 1, max(means[:, 1]) + reach + 1
        for _ in range(200):
            mid = (a + b) / 2
            if excess(mid) < 0:
                a = mid
            else:
                b = mid
        return (a + b) / 2


def _normal_quantile(u):
    """Phi^{-1}(u) by bisection in log space at 50 digits (erfinv(2u - 1) loses u = 1e-300)."""
    with mp.workdps(50):
        u = mp.mpf(u)
        lower = u < 0.5
        tail = u if lower else 1 - u
        a, b = mp.mpf(-40), mp.mpf(0)
        for _ in range(200):
            mid = (a + b) / 2
            if mp.log(mp.ncdf(mid)) < mp.log(tail):
                a = mid
            else:
                b = mid
        z = (a + b) / 2
        return z if lower else -z


@pytest.mark.parametrize("separation", [8.0, 10.0, 14.0])
@pytest.mark.parametrize("second_scales", [(0.5, 2.0), (2.0, 0.5)])
def test_quantile_matches_mpmath_on_both_sides_of_the_dominance_threshold(separation, second_scales):
    logits = np.zeros(2)
    means = np.array([[0.0, -1.0], [separation, 3.0]])
    scales = np.array([[1.0, second_scales[0]], [1.0, second_scales[1]]])
    mix = DiagGaussianMixture(logits, means, scales)
    # u_0 = 3/4 puts x_0 at the second component's mean: its weight gap to the first is
    # -separation^2 / 2 (-32, -50, -98), against the threshold log min(u, 1 - u) - 37.4.
    u = np.array([[0.75, v] for v in U])
    x = mix.quantile(u)
    z = special.ndtri(np.array(U))
    for row, v in enumerate(U):
        ref = _reference_second_coordinate(logits, means, scales, x[row, 0], v)
        # A dominant lane's x_1 = m + s z carries z = ndtri(u)'s own error times s, and the
        # rounding of the multiply-add at the scale of the larger of |x_1| and |m| (3 here; two
        # roundings in the baseline copy, which has no FMA).
        tol = scales[:, 1].max() * abs(float(mp.mpf(z[row]) - _normal_quantile(v))) + 2 * np.spacing(
            max(abs(float(ref)), 3.0)
        )
        err = abs(mp.mpf(x[row, 1]) - ref)
        assert err <= tol, (v, x[row, 1], float(ref), float(err / tol))
