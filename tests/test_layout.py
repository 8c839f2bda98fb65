"""The package layout: `import mixgrad` is light, subpackages load on first use, old names resolve."""

import subprocess
import sys

import pytest

import mixgrad


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120).stdout


def test_import_mixgrad_does_not_import_heavy_optional_packages():
    out = _run(
        "import sys, mixgrad\n"
        "print(sorted(m for m in ('torch', 'jax', 'matplotlib', 'scipy', 'pyro', 'dask') if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_subpackages_load_on_attribute_access():
    out = _run(
        "import sys, mixgrad\n"
        "assert 'mixgrad.gmm' not in sys.modules\n"
        "r = mixgrad.gmm.fit(mixgrad.gmm.report_data(50, seed=0), 2, method='em', n_iter=3)\n"
        "mixgrad.experiments.toy\n"
        "print(type(r).__name__, 'matplotlib' in sys.modules, 'torch' in sys.modules)"
    )
    assert out.split() == ["FitResult", "False", "False"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("toy", "mixgrad.experiments.toy"),
        ("toy_plots", "mixgrad.experiments.toy_plots"),
        ("gmm_experiment", "mixgrad.experiments.gmm_report"),
        ("gmm_plots", "mixgrad.experiments.gmm_plots"),
        ("vi", "mixgrad.experiments.vi"),
    ],
)
def test_moved_modules_keep_their_old_attribute_names(old, new):
    assert getattr(mixgrad, old).__name__ == new


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mixgrad.nope  # noqa: B018


def test_dir_lists_the_lazy_subpackages():
    assert {"gmm", "experiments", "cli", "torch", "jax", "special"} <= set(dir(mixgrad))
