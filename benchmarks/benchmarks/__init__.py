"""asv benchmarks for mixgrad. Run from benchmarks/: `asv run --quick -E existing` (see README)."""
