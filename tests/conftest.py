"""pytest configuration: hypothesis profiles, and the Dask schedulers of the mixgrad.dask tests.

``fast`` (the default) keeps the property-based tests to a few seconds per file and draws the
same examples on every run (CI never flakes on a new example); ``HYPOTHESIS_PROFILE=slow`` runs
20x more, freshly drawn, examples per property.
"""

import os

import pytest

try:
    from hypothesis import settings
except ImportError:  # hypothesis is in the `test` extra; tests that need it skip without it
    pass
else:
    settings.register_profile("fast", max_examples=150, deadline=None, derandomize=True, print_blob=True)
    settings.register_profile("slow", max_examples=3000, deadline=None, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(scope="module")
def client():
    """A distributed.LocalCluster of two worker processes with one thread each (the layout the
    issue asks about), and a client of it. Starting it takes a few seconds on a loaded machine,
    so once per module."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=40
    )
    with cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(params=["threads", "distributed"])
def compute(request):
    """compute(*collections) on one scheduler: Dask's threaded one or the cluster of ``client``."""
    if request.param == "threads":
        dask = pytest.importorskip("dask")
        return lambda *objs: dask.compute(*objs, scheduler="threads")
    c = request.getfixturevalue("client")
    return lambda *objs: c.compute(list(objs), sync=True)
