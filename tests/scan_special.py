"""Scan mixgrad.special over the whole float64/float32 range against mpmath (a developer tool,
not collected by pytest): every binary exponent, both signs, two mantissas; reports NaN, 0 and
inf where a finite value exists, and the worst ulp error per function.

    python tests/scan_special.py [float64|float32] [function ...]
"""

import sys

import numpy as np

import mixgrad.special as S
import mp_reference as R
from helpers import ulp_error


def _grid(dtype, signs=(-1.0, 1.0), mantissas=(1.0, 1.1875, 1.4375, 1.75)):
    fi = np.finfo(dtype)
    lo, hi = int(np.log2(float(fi.smallest_subnormal))), int(fi.maxexp) - 1
    mags = np.array([m * 2.0**e for e in range(lo, hi + 1) for m in mantissas])
    mags = mags[(mags > 0) & (mags <= float(fi.max))]
    xs = np.concatenate([s * mags for s in signs])
    return np.unique(xs.astype(dtype))


def inputs(name, dtype):
    if name == "ndtri":
        small = _grid(dtype, signs=(1.0,))
        small = small[small < 0.5]
        return np.unique(np.concatenate([small, (1 - small).astype(dtype)]))
    if name == "ndtri_exp":
        return _grid(dtype, signs=(-1.0,))
    return _grid(dtype)


REFS = {
    "ndtr": R.ndtr,
    "log_ndtr": R.log_ndtr,
    "erfcx": R.erfcx,
    "ndtri": R.ndtri,
    "ndtri_exp": R.ndtri_exp,
}


def classify(got, exact, dtype, bound):
    """Indices of wrong special values, and the ulp errors (float64 array)."""
    fi = np.finfo(dtype)
    exact_d = exact.astype(dtype)  # rounding to the target precision (overflow -> inf)
    with np.errstate(invalid="ignore", over="ignore"):
        err = ulp_error(got, exact, dtype)
    finite = np.isfinite(exact_d)
    bad = np.zeros(got.shape, bool)
    bad |= np.isnan(got) & ~np.isnan(exact)
    bad |= finite & ~np.isfinite(got)
    bad |= finite & (got == 0) & (np.abs(exact) >= float(fi.smallest_subnormal))
    bad |= ~finite & ~np.isnan(exact) & (got != exact_d)
    bad |= finite & np.isfinite(got) & (err > bound)
    return np.flatnonzero(bad), np.where(finite & np.isfinite(got), err, 0.0)


def scan_unary(name, dtype):
    x = inputs(name, dtype)
    got = np.asarray(getattr(S, name)(x), dtype=np.float64)
    exact = np.array([R.to_float(REFS[name](float(v))) for v in x])
    bound = 8 if dtype == np.float64 else 4
    bad, err = classify(got, exact, dtype, bound)
    print(
        f"{name:14s} {np.dtype(dtype).name}: {x.size} points, max {err.max():.2f} ulp at x={x[np.argmax(err)]!r}, "
        f"{bad.size} bad"
    )
    for i in bad[:12]:
        print(f"    x={x[i]!r:26} got={got[i]!r:26} exact={exact[i]!r}")
    return bad.size


def scan_diff(dtype):
    pts = _grid(dtype, mantissas=(1.0,))
    pts = np.concatenate([pts[::16], [0.0]]).astype(dtype)
    pts = np.unique(pts)
    a, b = np.meshgrid(pts, pts, indexing="ij")
    keep = a < b
    a, b = a[keep], b[keep]
    # plus adjacent pairs (the cancellation regime) at every point
    nxt = np.nextafter(pts, np.array(np.inf, dtype=dtype))
    ok = np.isfinite(nxt)
    a = np.concatenate([a, pts[ok]])
    b = np.concatenate([b, nxt[ok]])
    got = np.asarray(S.log_ndtr_diff(a, b), dtype=np.float64)
    exact = np.array([R.to_float(R.log_ndtr_diff(float(u), float(v))) for u, v in zip(a, b)])
    bound = 8 if dtype == np.float64 else 4
    bad, err = classify(got, exact, dtype, bound)
    i = np.argmax(err)
    print(
        f"log_ndtr_diff  {np.dtype(dtype).name}: {a.size} pairs, max {err.max():.2f} ulp at ({a[i]!r}, {b[i]!r}), "
        f"{bad.size} bad"
    )
    for i in bad[:12]:
        print(f"    a={a[i]!r:24} b={b[i]!r:24} got={got[i]!r:24} exact={exact[i]!r}")
    return bad.size


def main(argv):
    dtypes = [np.dtype(d) for d in argv if d in ("float64", "float32")] or [np.dtype(np.float64), np.dtype(np.float32)]
    names = [n for n in argv if n not in ("float64", "float32")] or [*REFS, "log_ndtr_diff"]
    total = 0
    for dt in dtypes:
        for n in names:
            total += scan_diff(dt.type) if n == "log_ndtr_diff" else scan_unary(n, dt.type)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
