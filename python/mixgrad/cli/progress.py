"""Progress reporting for long-running commands: tqdm bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def _is_tty() -> bool:
    return sys.stderr.isatty()


@contextmanager
def step(title: str, total: int = 1) -> Iterator[_Step]:
    """A unit of work with a progress bar; prints its duration when done."""
    s = _Step(title, total)
    try:
        yield s
    finally:
        s.close()


class _Step:
    def __init__(self, title: str, total: int):
        self.title = title
        self.t0 = time.perf_counter()
        self.bar = None
        if _is_tty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=title, leave=False, file=sys.stderr)
            except ImportError:  # pragma: no cover
                self.bar = None

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        print(f"  [{time.perf_counter() - self.t0:5.1f} s] {self.title}", file=sys.stderr)
