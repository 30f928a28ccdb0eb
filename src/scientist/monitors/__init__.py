"""Monitors: the black-box lie detector of Pacchiardi et al. (ICLR 2024) and LLM backends.

Ask a model 65 unrelated yes/no "elicitation questions" after the answer you want to check
(:func:`interrogate`), then let a logistic regression trained on GPT-3.5's prompted lies say
how likely that answer was a lie (:class:`LieDetector`). The questions, the paper's probe
groups and the training features ship with the package (:func:`load_probes`,
:func:`load_lie_detector_data`).

References
----------
.. [1] L. Pacchiardi, A. J. Chan, S. Mindermann, I. Moscovitz, A. Y. Pan, Y. Gal, O. Evans and
   J. Brauner, "How to Catch an AI Liar: Lie Detection in Black-Box LLMs by Asking Unrelated
   Questions", ICLR 2024, arXiv:2309.15840.
"""

from scientist.monitors.backends import (
    BackendError,
    ChatBackend,
    HFChat,
    OpenAIChat,
    Reply,
    TokenLogprobs,
)
from scientist.monitors.data import (
    GROUPS,
    MODELS,
    N_PROBES,
    LieDetectorData,
    Probe,
    group_indices,
    load_lie_detector_data,
    load_probes,
)
from scientist.monitors.detector import LieDetector
from scientist.monitors.interrogate import (
    Interrogation,
    interrogate,
    logprob_difference,
    parse_yes_no,
)

__all__ = [
    "GROUPS",
    "MODELS",
    "N_PROBES",
    "BackendError",
    "ChatBackend",
    "HFChat",
    "Interrogation",
    "LieDetector",
    "LieDetectorData",
    "OpenAIChat",
    "Probe",
    "Reply",
    "TokenLogprobs",
    "group_indices",
    "interrogate",
    "load_lie_detector_data",
    "load_probes",
    "logprob_difference",
    "parse_yes_no",
]
