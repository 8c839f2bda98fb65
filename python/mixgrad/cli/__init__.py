"""The ``mixgrad`` command (``mixgrad demo``, ``mixgrad bench``) and what it runs: the demo, the
peer benchmark, their workloads, timing and progress display."""

from __future__ import annotations

from .main import main

__all__ = ["main"]
