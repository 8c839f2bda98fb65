"""The `mixgrad` command: `mixgrad demo` and `mixgrad bench`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, MutableMapping

# ATEN_CPU_CAPABILITY for our instruction-set levels below AVX-512: PyTorch's kernels as a CPU that
# has no more would run them. (At x86-64-v4 PyTorch's own choice is kept: AVX-512 or newer.)
_TORCH_CAPABILITY = {"x86-64-v3": "avx2", "baseline": "default"}


def _thread_count(text: str) -> int:
    """argparse type of ``--threads``: an integer from 1 to mixgrad.MAX_THREADS."""
    from .. import MAX_THREADS

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_THREADS}, got {n}")
    return n


def hold_torch_to_level(
    level: str, environ: MutableMapping[str, str] = os.environ, modules: Mapping[str, object] = sys.modules
) -> str | None:
    """Hold the PyTorch peers of ``mixgrad bench --simd-level LEVEL`` to that instruction set.

    Forcing our kernel copy does not force PyTorch's, which picks its own (AVX-512 where the CPU
    has it), so an AVX2 run on an AVX-512 CPU would time our AVX2 kernels against its AVX-512
    ones. This sets ATEN_CPU_CAPABILITY, which PyTorch reads once, when it is imported: only where
    torch is not imported yet and the variable is not set (a user's own value wins). The variable
    stays set in this process and its children. Returns the value it set, or None.
    """
    capability = _TORCH_CAPABILITY.get(level)
    if capability is None or "ATEN_CPU_CAPABILITY" in environ or "torch" in modules:
        return None
    environ["ATEN_CPU_CAPABILITY"] = capability
    return capability


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixgrad", description="Gradients through random samples.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run the tour: speed, gradient checks, REBAR, GMM fits, figures")
    demo.add_argument("--out", default="mixgrad-demo", help="folder for the figures and report (default: %(default)s)")
    demo.add_argument("--quick", action="store_true", help="smaller problems (about 30 s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    bench = sub.add_parser("bench", help="time mixgrad against the peer libraries that are installed")
    bench.add_argument("--quick", action="store_true", help="smaller problems")
    bench.add_argument("--repeats", type=int, default=5, help="timed repeats per case (median reported)")
    bench.add_argument(
        "--only", action="append", metavar="WORDS", help="run the comparisons whose title contains WORDS (repeatable)"
    )
    bench.add_argument(
        "--threads",
        type=_thread_count,
        metavar="N",
        help="mixgrad's thread count for its multi-threaded rows, and torch's for the PyTorch peers (Pyro's "
        "mixtures, REBAR, DisARM; JAX's thread pool is fixed when JAX starts) (default: "
        "mixgrad.get_num_threads()); the special functions and W1 kernels also get 1-thread rows",
    )
    bench.add_argument(
        "--simd-level",
        choices=["auto", "x86-64-v4", "x86-64-v3", "baseline"],
        help="run the kernels at this instruction-set level (default: the highest the CPU supports); the "
        "PyTorch peers run at the same level (ATEN_CPU_CAPABILITY, unless set)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__

        print(__version__)
        return 0
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(out_dir=args.out, quick=args.quick, seed=args.seed)
    if args.command == "bench":
        from .bench import run_bench

        if args.simd_level is not None:
            from .. import set_simd_level

            try:
                set_simd_level(args.simd_level)
            except ValueError as exc:
                print(f"mixgrad bench: {exc}", file=sys.stderr)
                return 2
            hold_torch_to_level(args.simd_level)
        return run_bench(quick=args.quick, repeats=args.repeats, only=args.only, nthreads=args.threads)
    parser.print_help(sys.stderr)
    return 2
