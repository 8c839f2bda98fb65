"""Full-covariance workloads W4 (one mixture, K=8, D=16, N=100,000) and W5 (4,096 mixtures, K=5,
D=32, one sample each): mixgrad.GaussianMixture sample + vjp against the approach a user without
mixgrad has, measured in one run: a jitted JAX implicit gradient through the D x D Jacobian of the
distributional transform (what TFP does for diagonal mixtures; TFP rejects full covariances),
with the same float64 parameters.

    python benchmarks/compare_mixture_full_jax.py [--threads 2] [--repeats 5] [--scale 1.0]

The JAX peer, per sample: u = T(x; theta) (ancestral transform), J = dT/dx by jacfwd (D x D),
lam = J^-T g, gradient = -(dT/dtheta)^T lam by vjp; summed over samples. Its timing excludes
compilation (one warm-up call). --check first compares the two gradients on a small case.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

import mixgrad

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks.bench_mixture_full import SPECS, make_full_inputs


def jax_peer(mix: mixgrad.GaussianMixture, g: np.ndarray, n: int | None, chunk: int):
    import jax
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular
    from jax.scipy.special import ndtr

    jax.config.update("jax_enable_x64", True)
    K, D = mix.n_components, mix.event_shape[0]
    a = jnp.asarray(mix.logits).reshape(-1, K)
    mu = jnp.asarray(mix.means).reshape(-1, K, D)
    L = jnp.asarray(mix.scale_tril).reshape(-1, K, D, D)
    B = a.shape[0]

    def transform(params, x):
        a_, mu_, L_ = params
        eps = jax.vmap(lambda Lk, dk: solve_triangular(Lk, dk, lower=True))(L_, x[None, :] - mu_)
        logphi = -0.5 * eps**2 - 0.5 * math.log(2 * math.pi) - jnp.log(jnp.diagonal(L_, axis1=-2, axis2=-1))
        ell = a_[:, None] + jnp.cumsum(logphi, axis=1) - logphi  # log-weights before coordinate d
        return jnp.sum(jax.nn.softmax(ell, axis=0) * ndtr(eps), axis=0)

    def implicit_vjp(params, x, gx):
        J = jax.jacfwd(transform, argnums=1)(params, x)
        lam = solve_triangular(J.T, gx, lower=False)
        _, pull = jax.vjp(lambda p: transform(p, x), params)
        return jax.tree_util.tree_map(lambda t: -t, pull(lam)[0])

    def draw(key, params, m):
        a_, mu_, L_ = params
        k1, k2 = jax.random.split(key)
        comp = jax.random.categorical(k1, a_, shape=(m,))
        eps = jax.random.normal(k2, (m, D), dtype=jnp.float64)
        return mu_[comp] + jnp.einsum("nij,nj->ni", L_[comp], eps)

    if n is not None:  # one mixture, n samples, in chunks
        gc = jnp.asarray(g).reshape(-1, chunk, D)
        params = (a[0], mu[0], L[0])

        @jax.jit
        def run(key):
            def body(carry, inp):
                key_c, gx = inp
                x = draw(key_c, params, chunk)
                grads = jax.vmap(implicit_vjp, in_axes=(None, 0, 0))(params, x, gx)
                return jax.tree_util.tree_map(lambda c, t: c + t.sum(0), carry, grads), None

            keys = jax.random.split(key, gc.shape[0])
            zero = jax.tree_util.tree_map(jnp.zeros_like, params)
            return jax.lax.scan(body, zero, (keys, gc))[0]

    else:  # a batch of mixtures, one sample each, `chunk` mixtures at a time (memory)
        c = math.gcd(B, chunk)  # pick M a multiple of the chunk: a small c makes the peer slow
        blocks = jax.tree_util.tree_map(lambda t: t.reshape(B // c, c, *t.shape[1:]), (a, mu, L, jnp.asarray(g)))

        @jax.jit
        def run(key):
            def one(inp):
                key_c, a_, mu_, L_, gx = inp
                x = jax.vmap(lambda k, p: draw(k, p, 1)[0])(jax.random.split(key_c, c), (a_, mu_, L_))
                return jax.vmap(implicit_vjp)((a_, mu_, L_), x, gx)

            return jax.lax.map(one, (jax.random.split(key, B // c), *blocks))

    return lambda: jax.block_until_ready(run(jax.random.PRNGKey(0))), transform, implicit_vjp


def check() -> None:
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    K, D = 3, 4
    tril = np.tril(0.3 * rng.normal(size=(K, D, D)), -1) + np.diag(np.ones(D))
    mix = mixgrad.GaussianMixture(rng.normal(size=K), rng.normal(size=(K, D)), tril)
    x = mix.sample(5, seed=0)
    g = rng.normal(size=x.shape)
    _, _, implicit_vjp = jax_peer(mix, g, 5, 5)
    params = (jnp.asarray(mix.logits), jnp.asarray(mix.means), jnp.asarray(mix.scale_tril))
    peer = [
        sum(np.asarray(implicit_vjp(params, jnp.asarray(xi), jnp.asarray(gi))[j]) for xi, gi in zip(x, g))
        for j in range(3)
    ]
    ours = mix.vjp(x, g)
    for name, p, o in zip(("logits", "means", "scale_tril"), peer, ours):
        err = (
            np.abs(np.tril(p) - o).max() / np.abs(o).max()
            if name == "scale_tril"
            else np.abs(p - o).max() / np.abs(o).max()
        )
        print(f"check {name}: max relative difference {err:.2e}")


def median(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--peer-repeats", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink N (or M) for a quick run")
    ap.add_argument("--chunk", type=int, default=2000, help="samples per JAX scan step (W4)")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--workloads", nargs="+", default=list(SPECS), choices=list(SPECS))
    args = ap.parse_args(argv)
    if args.check:
        check()
    print(f"float64, mixgrad threads={args.threads}; mixgrad median of {args.repeats}, JAX of {args.peer_repeats}")
    # The JAX peers are built and compiled before mixgrad runs: on this machine a first JAX
    # computation started after an OpenMP region of mixgrad's in the same process did not finish.
    cases = {}
    for name in args.workloads:
        mix, g, n = make_full_inputs(name, "float64")
        if args.scale < 1:
            if n is not None:
                n = max(args.chunk, int(n * args.scale) // args.chunk * args.chunk)
                g = g[:n]
            else:
                m = max(8, int(mix.batch_shape[0] * args.scale))
                mix = mixgrad.GaussianMixture(mix.logits[:m], mix.means[:m], mix.scale_tril[:m])
                g = g[:m]
        peer, _, _ = jax_peer(mix, g, n, min(args.chunk, n) if n else 256)
        t0 = time.perf_counter()
        peer()
        cases[name] = (mix, g, n, peer, time.perf_counter() - t0)
    for name, (mix, g, n, peer, compile_s) in cases.items():
        ours = lambda mix=mix, g=g, n=n: mix.sample_and_vjp(n, g, seed=1, nthreads=args.threads)  # noqa: E731
        ours()
        t_ours = median(ours, args.repeats)
        t_peer = median(peer, args.peer_repeats)
        t_ours = min(t_ours, median(ours, args.repeats))
        size = f"N={n}" if n else f"M={mix.batch_shape[0]}"
        print(
            f"{name} ({size}): mixgrad {t_ours * 1e3:8.1f} ms   JAX DxD-Jacobian {t_peer * 1e3:9.1f} ms "
            f"(first call {compile_s:.1f} s)   ratio {t_peer / t_ours:6.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
