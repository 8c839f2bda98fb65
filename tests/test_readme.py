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
    needs_torch = ["import torch" in code for code in blocks]
    assert sum(not t for t in needs_torch) >= 4
    for code, torch_block in zip(blocks, needs_torch):
        if torch_block and importlib.util.find_spec("torch") is None:
            continue  # the torch adapter's block needs the optional extra
        exec(compile(code, "README.md", "exec"), namespace)


def test_readme_figures_exist():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        full = os.path.join(os.path.dirname(README), path)
        assert os.path.getsize(full) > 1000, path
