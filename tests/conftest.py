"""Shared fixtures: small datasets with known generating theories."""

import numpy as np
import pytest

from scientist import Theory, datasets


def random_linear_gaussian(d: int, seed: int, edge_prob: float = 0.5, noise_sd: float = 0.1):
    """An Erdős–Rényi linear-Gaussian SEM with N(0, 1) weights in a random order."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(d)
    w = np.zeros((d, d))
    for a in range(d):
        for b in range(a + 1, d):
            if rng.random() < edge_prob:
                w[perm[a], perm[b]] = rng.normal()
    return Theory.linear_gaussian([f"X{i}" for i in range(d)], w, noise_sd=noise_sd)


@pytest.fixture(scope="session")
def gaussian4():
    """60 rows of a 4-node linear-Gaussian SEM (noise sd 0.5: a diffuse posterior)."""
    return random_linear_gaussian(4, seed=3, noise_sd=0.5).sample(60, rng=0)


@pytest.fixture(scope="session")
def asia_small():
    """300 rows of 4 asia variables (a categorical dataset with a diffuse posterior)."""
    data = datasets.load_network("asia").sample(300, rng=0)
    df = data.to_pandas()[["smoke", "lung", "bronc", "dysp"]]
    from scientist import Dataset

    return Dataset.from_pandas(df)
