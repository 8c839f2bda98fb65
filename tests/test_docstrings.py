"""Every public function, class and method of the numpy-facing API has a docstring."""

import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest

# The documented modules are listed once, in the script that writes docs/api.md.
_spec = importlib.util.spec_from_file_location("gen_api_docs", Path(__file__).parents[1] / "tools" / "gen_api_docs.py")
_gen_api_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gen_api_docs)
MODULES, OPTIONAL = _gen_api_docs.MODULES, _gen_api_docs.OPTIONAL


def _public(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [
            n for n, v in vars(mod).items() if not n.startswith("_") and getattr(v, "__module__", None) == mod.__name__
        ]
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
