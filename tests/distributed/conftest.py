"""One local Ray instance (2 CPUs) shared by the tests of this folder and shut down after them."""

import pytest


@pytest.fixture(scope="package")
def local_ray():
    """``ray.init(num_cpus=2)`` once for this folder, shut down after its last test (Ray's
    processes would otherwise load the machine through the rest of the suite); yields the
    ``ray`` module."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
