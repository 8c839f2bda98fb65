#!/usr/bin/env bash
# Build mixgrad with AddressSanitizer + UndefinedBehaviorSanitizer and run tests under it.
#
#   tools/sanitize.sh [pytest args...]     (default: the core suite, without torch/jax/slow tests)
#
# The instrumented build goes to its own virtualenv ($TMPDIR/mixgrad-asan-venv) so it never
# replaces a development install. Python itself is not instrumented, so libasan must come first
# in the process: it is preloaded, with libstdc++ (the ASan runtime intercepts its operators).
# Leak checking is off: CPython keeps interned objects alive until exit, which LeakSanitizer
# reports as leaks that are not ours. UBSan findings abort the run (halt_on_error).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="${TMPDIR:-/tmp}/mixgrad-asan-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
"$venv/bin/python" -m pip install --quiet numpy scipy mpmath pytest hypothesis threadpoolctl scikit-learn tqdm \
  scikit-build-core pybind11 ninja cmake
export MIXGRAD_WERROR=OFF  # this build is for the sanitizers; warnings are CI's main build's job
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
"$venv/bin/python" -m pip install --quiet --no-build-isolation --no-deps \
  -Cbuild-dir=build/asan -Ccmake.build-type=RelWithDebInfo \
  -Ccmake.define.CMAKE_CXX_FLAGS="$flags" -Ccmake.define.CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" .

asan=$(g++ -print-file-name=libasan.so)
stdcxx=$(g++ -print-file-name=libstdc++.so)
export LD_PRELOAD="$asan:$stdcxx"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc  # let ASan see Python's allocations too
if [ $# -eq 0 ]; then
  # The core suite: everything but the framework adapters (torch and jax are not built with
  # ASan and are not installed here), the CLI and the subprocess-heavy probes, and slow tests.
  set -- -q -p no:cacheprovider -m "not slow" \
    --ignore="$root/tests/test_cli.py" --ignore="$root/tests/test_readme.py" \
    --ignore="$root/tests/test_interrupt.py" --ignore="$root/tests/test_fork.py" "$root/tests"
fi
cd "${TMPDIR:-/tmp}"  # import the installed (instrumented) package, not the source tree
exec "$venv/bin/python" -m pytest --rootdir="$root" -c "$root/pyproject.toml" "$@"
