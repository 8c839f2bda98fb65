"""Every public function, class and method of the numpy-facing API has a docstring."""

import importlib
import inspect

import pytest

MODULES = ["mixgrad", "mixgrad.special", "mixgrad.random", "mixgrad.mixture", "mixgrad.implicit",
           "mixgrad.discrete", "mixgrad.objectives", "mixgrad.estimators", "mixgrad.tuning", "mixgrad.toy",
           "mixgrad.gmm", "mixgrad.gmm_experiment", "mixgrad.gmm_plots", "mixgrad.toy_plots", "mixgrad.vi",
           "mixgrad.torch", "mixgrad.jax"]
OPTIONAL = {"mixgrad.torch": "torch", "mixgrad.jax": "jax"}


def _public(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, v in vars(mod).items() if not n.startswith("_") and getattr(v, "__module__", None) == mod.__name__]
    for n in names:
        obj = getattr(mod, n)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield n, obj


@pytest.mark.parametrize("name", MODULES)
def test_public_api_is_documented(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    mod = importlib.import_module(name)
    assert mod.__doc__, f"module {name} has no docstring"
    missing = []
    for n, obj in _public(mod):
        if not (obj.__doc__ or "").strip():
            missing.append(n)
        if inspect.isclass(obj) and obj.__module__.startswith("mixgrad"):
            for m, member in vars(obj).items():
                if m.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                if not (member.__doc__ or "").strip():
                    missing.append(f"{n}.{m}")
    assert not missing, f"undocumented in {name}: {missing}"
