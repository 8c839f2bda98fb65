"""Pyro SVI with a mixgrad mixture guide on a bimodal posterior (docs/ppl.md).

Prior: a two-component Gaussian mixture; likelihood: y ~ N(z, I). The exact posterior is a
two-component mixture, and the guide, reparameterized in its weights, means and scales, finds it.
"""

import math

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import ClippedAdam

import mixgrad.pyro

torch.set_default_dtype(torch.float64)
y = torch.tensor([0.5, -0.5])
prior = dist.MixtureOfDiagNormals(
    locs=torch.tensor([[-1.5, -1.5], [1.5, 1.5]]),
    coord_scale=torch.ones(2, 2),
    component_logits=torch.tensor([math.log(0.35), math.log(0.65)]),
)


def model():
    z = pyro.sample("z", prior)
    pyro.sample("y", dist.Normal(z, 1.0).to_event(1), obs=y)


def guide():
    logits = pyro.param("logits", torch.zeros(2))
    means = pyro.param("means", torch.tensor([[-1.5, -1.5], [1.5, 1.5]]))
    scales = pyro.param("scales", torch.ones(2, 2), constraint=dist.constraints.positive)
    pyro.sample("z", mixgrad.pyro.DiagGaussianMixture(logits, means, scales))


def fit(steps=200):
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    optim = ClippedAdam({"lr": 0.05, "lrd": 0.99, "betas": (0.9, 0.99)})
    svi = SVI(model, guide, optim, Trace_ELBO(num_particles=32, vectorize_particles=True))
    for _ in range(steps):
        svi.step()
    weights = torch.softmax(pyro.param("logits"), -1)
    return weights.detach().numpy(), pyro.param("means").detach().numpy(), pyro.param("scales").detach().numpy()


if __name__ == "__main__":
    weights, means, scales = fit()
    print("weights", weights)  # exact posterior: 0.35, 0.65
    print("means", means)  # exact: (-0.5, -1.0), (1.0, 0.5)
    print("scales", scales)  # exact: 0.707 everywhere
