"""The ImportError of an adapter whose optional extra is not installed."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(extra: str, package: str, pip_name: str) -> ImportError:
    """The error ``mixgrad.<extra>`` raises when ``package`` cannot be imported.

    Parameters
    ----------
    extra : str
        Name of the adapter module and of its optional extra (``mixgrad[<extra>]``).
    package : str
        The missing package as its users name it ("PyTorch", "JAX", ...).
    pip_name : str
        Its name on PyPI.

    Returns
    -------
    ImportError
        With a message that names the extra and the package to install (raise it ``from`` the
        original error).
    """
    return ImportError(
        f"mixgrad.{extra} needs {package}, which is not installed. Install the optional extra with "
        f"`pip install mixgrad[{extra}]` (or `pip install {pip_name}`)."
    )
