"""Samplers of DAGs: one module per algorithm, each a pure kernel (``init`` + ``build_kernel``).

Drivers (chains, burn-in, thinning, progress) live in :mod:`scientist.samplers.driver`.
"""
