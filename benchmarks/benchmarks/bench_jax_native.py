"""The JAX paths on W1 (K=8, D=16, N=1e5): sample + gradient of sum(g * x) through jax.grad,
jitted, with the C++ core behind pure_callback (backend "core") and in pure JAX (backend
"native"), float64. Compilation happens in setup. Skipped when JAX is not installed."""

from mixgrad.cli.mixture_workloads import SPECS, make_inputs


class JaxSampleGrad:
    """W1 sample + vjp through ``jax.jit(jax.grad(...))``, native against core."""

    params = (["core", "native"],)
    param_names = ["backend"]
    timeout = 300

    def setup(self, backend):
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            raise NotImplementedError("jax missing") from None
        jax.config.update("jax_enable_x64", True)
        import mixgrad.jax as mj

        logits, means, scales, g = make_inputs("W1")
        n = SPECS["W1"][3]
        self.theta = tuple(jnp.asarray(t) for t in (logits, means, scales))
        self.g = jnp.asarray(g)

        def loss(a, m, s, key, g):
            return jnp.sum(g * mj.rsample(a, m, s, key, (n,), backend=backend))

        self.grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
        self.key = jax.random.key(1) if backend == "native" else jnp.asarray([1, 0], jnp.uint32)
        self.block = jax.block_until_ready
        self.block(self.grad(*self.theta, self.key, self.g))  # compile outside the timing

    def time_sample_grad(self, backend):
        self.block(self.grad(*self.theta, self.key, self.g))

    def peakmem_sample_grad(self, backend):
        self.block(self.grad(*self.theta, self.key, self.g))
