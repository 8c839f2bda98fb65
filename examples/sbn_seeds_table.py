"""Summarize several seeds of examples/sbn_digits.py: mean and spread of each estimator's
numbers over the seeds, and how often it wins its evaluation budget.

Run sbn_digits.py once per seed (``--seed S --out DIR/seedS``), then
``python examples/sbn_seeds_table.py DIR/seed*`` prints a markdown table. Estimators are grouped
by evaluations of f per data point and step (sbn_digits.py's docstring); within a group the
"wins" column counts the seeds where the estimator had the best test ELBO.
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict

import numpy as np

EVALUATIONS = {
    "reinforce_ma": 1,
    "concrete": 1,
    "rloo2": 2,
    "disarm2": 2,
    "double_cv2": 2,
    "rebar": 3,
    "relax": 3,
    "reinforce_loo": 4,
    "disarm4": 4,
    "arms4": 4,
    "double_cv4": 4,
}
COLUMNS = ("train ELBO", "test ELBO", "log10 Var, mean over training", "log10 Var, end")


def read_table(path: str) -> dict[tuple[str, str], dict[str, float]]:
    """Rows of one sbn_table.md: (variant, estimator) -> {column: value}."""
    rows = {}
    header: list[str] = []
    with open(path) as fh:
        for line in fh:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[:2] == ["variant", "estimator"]:
                header = cells
            elif header and len(cells) == len(header) and not cells[0].startswith("---"):
                rows[(cells[0], cells[1])] = {h: float(c) for h, c in zip(header[2:], cells[2:])}
    return rows


def summarize(dirs: list[str]) -> str:
    tables = [read_table(os.path.join(d, "sbn_table.md")) for d in dirs]
    keys = sorted(set.intersection(*(set(t) for t in tables)), key=lambda k: (k[0], EVALUATIONS.get(k[1], 9), k[1]))
    wins: dict[tuple[str, str], int] = defaultdict(int)
    for t in tables:
        best: dict[tuple[str, int], tuple[float, str]] = {}
        for variant, name in keys:
            group = (variant, EVALUATIONS.get(name, 0))
            score = t[(variant, name)]["test ELBO"]
            if group not in best or score > best[group][0]:
                best[group] = (score, name)
        for (variant, _), (_, name) in best.items():
            wins[(variant, name)] += 1
    lines = [
        f"{len(tables)} seeds; mean ± standard deviation over seeds; wins = seeds with the best test ELBO "
        "among the estimators with the same evaluations of f.",
        "",
        "| variant | estimator | evaluations of f | " + " | ".join(COLUMNS) + " | wins |",
        "|---|---|---:|" + "---:|" * len(COLUMNS) + "---:|",
    ]
    for key in keys:
        cells = []
        for col in COLUMNS:
            v = np.array([t[key][col] for t in tables])
            cells.append(f"{v.mean():.2f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.2f}")
        lines.append(
            f"| {key[0]} | {key[1]} | {EVALUATIONS.get(key[1], '?')} | " + " | ".join(cells) + f" | {wins[key]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", help="output folders of sbn_digits.py, one per seed")
    print(summarize(ap.parse_args(argv).dirs), end="")


if __name__ == "__main__":
    main()
