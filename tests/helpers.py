"""Shared test helpers."""

import numpy as np


def ulp_error(got, exact, dtype=np.float64):
    """|got - exact| in units of the spacing of ``dtype`` at ``exact`` (subnormal spacing floor)."""
    exact = np.asarray(exact, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    tiny = np.finfo(dtype).smallest_subnormal
    spacing = np.maximum(spacing, float(tiny))
    return np.abs(got - exact) / spacing
