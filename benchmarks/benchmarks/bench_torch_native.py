"""mixgrad.torch.DiagGaussianMixture on the CPU: W1 (K=8, D=16, N=100,000) rsample + backward
through the torch-op recurrence (backend="native", eager) and through the C++ core
(backend="core"). Skipped when torch is missing."""

import numpy as np

from mixgrad.cli.mixture_workloads import SPECS, make_inputs

try:
    import torch

    import mixgrad.torch as mt
except ImportError:  # the torch extra is optional
    torch = None


class TorchW1:
    """rsample((N,)) then the gradient of sum(g * x) for logits, means and scales."""

    params = (["native", "core"], ["float64", "float32"])
    param_names = ["backend", "dtype"]
    timeout = 300

    def setup(self, backend, dtype):
        if torch is None:
            raise NotImplementedError("torch missing")
        logits, means, scales, g = make_inputs("W1", dtype=np.dtype(dtype))
        self.params_ = [torch.from_numpy(v).requires_grad_(True) for v in (logits, means, scales)]
        self.g = torch.from_numpy(g)
        self.n = SPECS["W1"][3]
        self.backend = backend

    def _run(self):
        q = mt.DiagGaussianMixture(*self.params_, backend=self.backend)
        if self.backend == "core":
            x = q.rsample((self.n,), seed=1)
        else:
            x = q.rsample((self.n,), generator=torch.Generator().manual_seed(1))
        torch.autograd.grad(x, self.params_, self.g)

    def time_rsample_backward(self, backend, dtype):
        self._run()

    def peakmem_rsample_backward(self, backend, dtype):
        self._run()
