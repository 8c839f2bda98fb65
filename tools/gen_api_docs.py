"""Write docs/api.md from the docstrings of mixgrad's public API (run after installing).

    python tools/gen_api_docs.py [--out docs/api.md]

The page lists every public module, class and function with its signature and numpy-style
docstring, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import importlib
import inspect

MODULES = [
    "mixgrad",
    "mixgrad.special",
    "mixgrad.random",
    "mixgrad.mixture",
    "mixgrad.mixture_full",
    "mixgrad.implicit",
    "mixgrad.discrete",
    "mixgrad.objectives",
    "mixgrad.estimators",
    "mixgrad.tuning",
    "mixgrad.gmm",
    "mixgrad.experiments.toy",
    "mixgrad.experiments.toy_plots",
    "mixgrad.experiments.gmm_report",
    "mixgrad.experiments.gmm_plots",
    "mixgrad.experiments.vi",
    "mixgrad.torch",
    "mixgrad.jax",
    "mixgrad.jax.diag_native",
    "mixgrad.pyro",
    "mixgrad.numpyro",
    "mixgrad.dask",
    "mixgrad.dask.special",
]
# Modules that need an optional extra, with the package that extra installs.
OPTIONAL = {
    "mixgrad.torch": "torch",
    "mixgrad.jax": "jax",
    "mixgrad.jax.diag_native": "jax",
    "mixgrad.pyro": "pyro",
    "mixgrad.numpyro": "numpyro",
    "mixgrad.dask": "dask",
    "mixgrad.dask.special": "dask",
}


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _doc(obj) -> str:
    return inspect.cleandoc(obj.__doc__) if obj.__doc__ else "*(no docstring)*"


def _public_names(mod) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(mod).items()
            if not n.startswith("_")
            and getattr(v, "__module__", None) == mod.__name__
            and (inspect.isfunction(v) or inspect.isclass(v))
        ]
    return list(names)


def _members(cls) -> list[tuple[str, object]]:
    """The public methods and properties a user finds on cls: its own and those it inherits from
    mixgrad's base classes (often private, so not documented on their own), but not those of
    other libraries' bases (torch.distributions.Distribution)."""
    found: dict[str, object] = {}
    for base in reversed(cls.__mro__):
        if base.__module__.split(".")[0] == "mixgrad":
            found.update(vars(base))
    return [
        (name, member)
        for name, member in sorted(found.items())
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    ]


def render() -> str:
    out = [
        "# mixgrad API reference",
        "",
        "Generated from the docstrings by `python tools/gen_api_docs.py`; do not edit by hand.",
        "",
    ]
    for name in MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:  # optional extras (torch, jax) may be missing
            out += [f"## `{name}`", "", f"*(not importable here: {exc})*", ""]
            continue
        out += [f"## `{name}`", "", _doc(mod).split("\n\n")[0], ""]
        for attr in _public_names(mod):
            obj = getattr(mod, attr, None)
            if obj is None or inspect.ismodule(obj):
                continue
            if (
                name == "mixgrad"
                and getattr(obj, "__module__", "mixgrad") != "mixgrad"
                and attr not in ("threads", "get_num_threads", "set_num_threads")
            ):
                continue  # documented under its own module
            if inspect.isclass(obj):
                out += [f"### class `{name}.{attr}{_signature(obj)}`", "", _doc(obj), ""]
                for meth, member in _members(obj):
                    sig = "" if isinstance(member, property) else _signature(member)
                    kind = "property" if isinstance(member, property) else "method"
                    out += [f"#### {kind} `{attr}.{meth}{sig}`", "", _doc(member), ""]
            elif callable(obj):
                out += [f"### `{name}.{attr}{_signature(obj)}`", "", _doc(obj), ""]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/api.md")
    args = ap.parse_args()
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(render())
    print("wrote", args.out)


if __name__ == "__main__":
    main()
