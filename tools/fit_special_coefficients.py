"""Fit the coefficients of cpp/include/mixgrad/special.hpp and elementary.hpp that are ours
(not taken from a publication), in mpmath at 50 digits, and print them as C++ arrays.

    python tools/fit_special_coefficients.py [ndtri_central | exp | log] ...

Each fit minimizes the maximum relative error on Chebyshev nodes: a linearized least-squares
solve (Sanathanan-Koerner reweighting by the previous denominator, for rationals) repeated with
Lawson weights, which move the least-squares solution towards the minimax one. The printed
"fit error" is that of the unrounded coefficients on a denser grid; the tests
(tests/test_special_accuracy.py) measure the error of the double-precision code.

* ndtri_central: Phi^{-1}(1/2 + q) = q P(r)/R(r), r = 0.2209 - q^2, for |q| <= 0.47, P and R of
  degree 9.
* exp: (e^r - 1)/r for |r| <= ln(2)/2 (+ the rounding slack of the reduction), degree 10.
* scaled_tail_rational: Q(y) = Phi(-y) exp(y^2/2) = P(y)/R(y) for y >= 0, P of degree 10 and R
  of 11: fitted as a rational of degree 10 in t = (y - 4)/(y + 4), which maps the half-line onto
  [-1, 1], and multiplied out (all coefficients come out positive).
* scaled_tail_bounded: Q(y) = P(y)/R(y) for 0 <= y <= 10, P of degree 8 and R of 9, fitted in y
  directly (all coefficients come out positive): four multiply-adds fewer than
  scaled_tail_rational, for the mixture kernels, where nearly every |z| is below 10.
* scaled_tail_ndtr: Q(y) = P(y)/R(y) for 0 <= y <= 40, P and R of degree 10, fitted in y
  directly (all coefficients come out positive): one multiply-add fewer than scaled_tail_rational
  and a smaller error, for ndtr, whose argument is clamped at 40.
* exp_rough: (e^r - 1)/r as exp, degree 7 (relative error 4.6e-12): the quantile's first,
  rough evaluation (mixture/relative_exp.hpp).
* scaled_tail_rough: Q(y) = P(y)/R(y) for 0 <= y <= 10, P of degree 6 and R of 7 (relative
  error 2.9e-13): the quantile's first, rough evaluation (special.hpp).
* log: (2 atanh(s)/s - 2)/s^2 as a polynomial in z = s^2 <= 0.0295 (s = f/(2 + f) for
  1 + f in [sqrt(1/2), sqrt(2)]), degree 7.
"""

from __future__ import annotations

import sys

import mpmath as mp

mp.mp.dps = 50


def chebyshev_nodes(a, b, m):
    """m Chebyshev points of the first kind on [a, b]."""
    return [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / m) for k in range(m)]


def horner(c, v):
    s = mp.mpf(0)
    for x in reversed(c):
        s = s * v + x
    return s


def fit_rational(f, a, b, num_deg, den_deg, nodes=120, iterations=16):
    """P/R (R(0) = 1) of the given degrees with small maximum relative error to f on [a, b]."""
    vs = chebyshev_nodes(mp.mpf(a), mp.mpf(b), nodes)
    fs = [f(v) for v in vs]
    w = [mp.mpf(1)] * len(vs)
    den_prev = [mp.mpf(1)] * len(vs)
    best = None
    for _ in range(iterations):
        A = mp.matrix(len(vs), num_deg + 1 + den_deg)
        rhs = mp.matrix(len(vs), 1)
        for i, (v, fv) in enumerate(zip(vs, fs)):
            scale = mp.sqrt(w[i]) / (abs(fv) * abs(den_prev[i]))
            for j in range(num_deg + 1):
                A[i, j] = v**j * scale
            for j in range(1, den_deg + 1):
                A[i, num_deg + j] = -fv * v**j * scale
            rhs[i] = fv * scale
        x, _ = mp.qr_solve(A, rhs)
        num = [x[j] for j in range(num_deg + 1)]
        den = [mp.mpf(1)] + [x[num_deg + j] for j in range(1, den_deg + 1)]
        errs = [abs(horner(num, v) / horner(den, v) / fv - 1) for v, fv in zip(vs, fs)]
        if best is None or max(errs) < best[0]:
            best = (max(errs), num, den)
        den_prev = [horner(den, v) for v in vs]
        total = mp.fsum(wi * e for wi, e in zip(w, errs))
        w = [wi * e / total for wi, e in zip(w, errs)]
    _, num, den = best
    dense = [mp.mpf(a) + (mp.mpf(b) - mp.mpf(a)) * k / 2000 for k in range(2001)]
    err = max(abs(horner(num, v) / horner(den, v) / f(v) - 1) for v in dense)
    return num, den, err


def print_array(name, coefficients):
    body = ", ".join(mp.nstr(c, 21, min_fixed=1, max_fixed=0) for c in coefficients)
    print(f"static constexpr double {name}[{len(coefficients)}] = {{{body}}};")


def ndtri_central():
    def g(w):  # Phi^{-1}(1/2 + q)/q = sqrt(2) erfinv(2q)/q, q = sqrt(w)
        if w == 0:
            return mp.sqrt(2 * mp.pi)
        q = mp.sqrt(w)
        return mp.sqrt(2) * mp.erfinv(2 * q) / q

    # In r = 0.2209 - q^2 (0.47^2 = 0.2209), as AS241 does, the coefficients come out positive:
    # no cancellation when the polynomials are evaluated in double.
    top = mp.mpf("0.2209")
    num, den, err = fit_rational(lambda r: g(top - r), 0, top, 9, 9)
    print(f"// ndtri central, |q| <= 0.47, r = 0.2209 - q^2: fit error {mp.nstr(err, 3)}")
    print_array("num", num)
    print_array("den", den)


def _fit_exp(degree):
    def g(r):
        return mp.mpf(1) if r == 0 else mp.expm1(r) / r

    half = mp.log(2) / 2 + mp.mpf("1e-3")  # |r| <= ln2/2 plus the reduction's rounding
    num, _, err = fit_rational(g, -half, half, degree, 0)
    print(f"// (e^r - 1)/r, |r| <= {mp.nstr(half, 5)}, degree {degree}: fit error {mp.nstr(err, 3)}")
    print_array("c", num)


def exp():
    _fit_exp(10)


def exp_rough():
    _fit_exp(7)


def log():
    smax = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)  # s = f/(2 + f) at 1 + f = sqrt(2)

    def g(z):
        if z == 0:
            return mp.mpf(2) / 3
        s = mp.sqrt(z)
        return (2 * mp.atanh(s) / s - 2) / z

    num, _, err = fit_rational(g, 0, smax**2 * (1 + mp.mpf("1e-6")), 7, 0)
    print(f"// (2 atanh(s)/s - 2)/s^2 in z = s^2 <= {mp.nstr(smax**2, 5)}: fit error {mp.nstr(err, 3)}")
    print_array("c", num)


def _poly_mul(a, b):
    out = [mp.mpf(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, z in enumerate(b):
            out[i + j] += x * z
    return out


def scaled_tail_rational():
    def g(t):  # (y + 4) Q(y), y = 4 (1 + t)/(1 - t); 1/sqrt(2 pi) at t = 1 (y = inf)
        if t == 1:
            return 1 / mp.sqrt(2 * mp.pi)
        y = 4 * (1 + t) / (1 - t)
        with mp.workdps(mp.mp.dps + 2 * int(mp.log10(y + 10))):  # exp(y^2/2) needs the digits
            return (y + 4) * mp.erfc(y / mp.sqrt(2)) * mp.exp(y * y / 2) / 2

    num_t, den_t, err = fit_rational(g, -1, 1, 10, 10, nodes=140)

    # Back to y: multiply P(t) and R(t) by (y + 4)^10, with t (y + 4) = y - 4; the factor
    # 1/(y + 4) joins the denominator.
    def in_y(c):
        out = [mp.mpf(0)] * 11
        for i, ci in enumerate(c):
            term = [ci]
            for _ in range(i):
                term = _poly_mul(term, [mp.mpf(-4), mp.mpf(1)])
            for _ in range(10 - i):
                term = _poly_mul(term, [mp.mpf(4), mp.mpf(1)])
            out = [o + x for o, x in zip(out, term)]
        return out

    num, den = in_y(num_t), _poly_mul(in_y(den_t), [mp.mpf(4), mp.mpf(1)])
    num, den = [c / den[0] for c in num], [c / den[0] for c in den]
    print(f"// Q(y) = P(y)/R(y), degrees 10 and 11, y >= 0: fit error {mp.nstr(err, 3)}")
    print_array("num", num)
    print_array("den", den)


def _fit_scaled_tail_bounded(num_deg, den_deg):
    def q(y):  # Q(y); exp(y^2/2) <= e^50 on [0, 10] needs ~22 digits more
        with mp.workdps(mp.mp.dps + 25):
            return mp.erfc(y / mp.sqrt(2)) * mp.exp(y * y / 2) / 2

    num, den, err = fit_rational(q, 0, 10, num_deg, den_deg, nodes=120)
    print(f"// Q(y) = P(y)/R(y), degrees {num_deg} and {den_deg}, 0 <= y <= 10: fit error {mp.nstr(err, 3)}")
    print_array("num", num)
    print_array("den", den)


def scaled_tail_bounded():
    _fit_scaled_tail_bounded(8, 9)


def scaled_tail_rough():
    _fit_scaled_tail_bounded(6, 7)


def scaled_tail_ndtr():
    def q(y):  # Q(y): mpmath's erfc and exp keep their relative precision at any magnitude
        return mp.erfc(y / mp.sqrt(2)) * mp.exp(y * y / 2) / 2

    num, den, err = fit_rational(q, 0, 40, 10, 10, nodes=160)
    print(f"// Q(y) = P(y)/R(y), degrees 10 and 10, 0 <= y <= 40: fit error {mp.nstr(err, 3)}")
    print_array("num", num)
    print_array("den", den)


FITS = {
    "ndtri_central": ndtri_central,
    "exp": exp,
    "exp_rough": exp_rough,
    "log": log,
    "scaled_tail_rational": scaled_tail_rational,
    "scaled_tail_bounded": scaled_tail_bounded,
    "scaled_tail_rough": scaled_tail_rough,
    "scaled_tail_ndtr": scaled_tail_ndtr,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(FITS):
        FITS[name]()
