"""The README's API tour runs as written (its python blocks, in order, in one namespace)."""

import importlib.util
import os
import re

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def _blocks():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_the_two_quick_start_commands():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    assert "pip install . && mixgrad demo" in text
    assert 'pip install ".[test]" && python -m pytest' in text


def test_readme_python_blocks_run():
    blocks = _blocks()
    assert len(blocks) >= 5
    namespace: dict = {}
    extras = [[m for m in ("torch", "dask") if f"import {m}" in code] for code in blocks]
    assert sum(not e for e in extras) >= 4
    for code, needs in zip(blocks, extras):
        if any(importlib.util.find_spec(m) is None for m in needs):
            continue  # the adapter's block needs its optional extra
        exec(compile(code, "README.md", "exec"), namespace)


def test_readme_figures_exist():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        full = os.path.join(os.path.dirname(README), path)
        assert os.path.getsize(full) > 1000, path
