"""Experiment design: recommend the interventions that would teach the world model the most.

:mod:`~scientist.design.eig` ranks candidate experiments by expected information gain and picks
greedy batches (:func:`suggest`); :mod:`~scientist.design.loop` is the simulation study that
tests the recommendations against random and round-robin choices (:func:`run_design_loop`).
Nothing here runs an experiment: the module only recommends.
"""

from scientist.design.eig import Experiment, expected_information_gain, suggest, to_json
from scientist.design.loop import edge_error, run_design_loop, structural_hamming_distance

__all__ = [
    "Experiment",
    "edge_error",
    "expected_information_gain",
    "run_design_loop",
    "structural_hamming_distance",
    "suggest",
    "to_json",
]
