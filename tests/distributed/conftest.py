"""One local Ray instance (2 CPUs) shared by every test of this folder, started on first use."""

import pytest


@pytest.fixture(scope="session")
def local_ray():
    """``ray.init(num_cpus=2)`` once per session; yields the ``ray`` module."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
