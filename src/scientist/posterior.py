"""The posterior over theories: weighted DAGs plus the parameter model that fills in mechanisms.

A :class:`Posterior` holds ``K`` distinct DAGs (as parent bit masks), their normalised log
weights, and says how the weights were obtained:

* ``"exact"``: every DAG was enumerated and weighted by its exact posterior;
* ``"empirical"``: weights are the sampler's visit frequencies;
* ``"rescored"``: the distinct sampled DAGs weighted by their exact unnormalised posterior
  ``exp(log P(D | G) + log P(G))`` renormalised over the sampled set (unbiased for the DAGs found,
  and immune to the order-modular prior bias of order MCMC; mass outside the set is missed).

The parameter model is the fitted score (:class:`scientist.scores.LocalScorer`): a theory's
mechanisms are computed from it on demand, so a posterior over thousands of DAGs stays small.

File format (``Posterior.save``): a NumPy ``.npz`` archive (no pickles) holding ``meta`` (UTF-8
JSON: ``format = "scientist.posterior"``, ``version``, variables, weighting, scorer kind and
scalars, sampler info), ``masks`` ``(K, d)`` int64, ``log_weights``, ``log_scores``, ``counts``,
and the scorer's arrays as ``scorer.<name>``. Version 1 is the current version; files of a newer
version are refused with a clear error.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.special import logsumexp

from scientist.data import Variable
from scientist.errors import FileFormatError, InputError
from scientist.graphs import adjacency_from_masks, parent_masks, transitive_closure
from scientist.scores.base import LocalScorer, scorer_from_state
from scientist.theory import CategoricalFamily, GaussianFamily, Theory

__all__ = ["FORMAT", "VERSION", "Posterior"]

FORMAT = "scientist.posterior"
VERSION = 1
Weighting = Literal["exact", "empirical", "rescored"]


class Posterior:
    """Weighted causal theories.

    Parameters
    ----------
    variables
        The variables.
    masks
        ``(K, d)`` parent bit masks of distinct DAGs.
    log_weights
        ``(K,)`` log weights (normalised here).
    weighting
        ``"exact"``, ``"empirical"`` or ``"rescored"`` (see the module docstring).
    scorer
        The fitted score that gives each theory's parameter posterior (None: structure only).
    counts
        How often each DAG was sampled (None for exact weights).
    log_scores
        Unnormalised log posterior ``log P(D | G) + log P(G)`` of each DAG.
    info
        Sampler diagnostics (JSON-serialisable): sampler name, samples, chains, R-hat, ...
    theories
        Explicit theories, one per DAG (for example ground-truth networks with point
        parameters); used instead of ``scorer`` to fill in mechanisms.
    """

    def __init__(
        self,
        variables: Sequence[Variable],
        masks: np.ndarray,
        log_weights: np.ndarray,
        *,
        weighting: Weighting,
        scorer: LocalScorer | None = None,
        counts: np.ndarray | None = None,
        log_scores: np.ndarray | None = None,
        info: dict[str, Any] | None = None,
        theories: Sequence[Theory] | None = None,
    ) -> None:
        if weighting not in ("exact", "empirical", "rescored"):
            raise InputError(
                f"weighting={weighting!r} is invalid: expected 'exact', 'empirical' or 'rescored'."
            )
        masks = np.asarray(masks, dtype=np.int64).reshape(-1, len(variables))
        lw = np.asarray(log_weights, dtype=float)
        if lw.shape != (masks.shape[0],) or masks.shape[0] == 0 or not np.isfinite(logsumexp(lw)):
            raise InputError("A posterior needs at least one theory with a finite weight.")
        order = np.argsort(-lw, kind="stable")
        self.variables = tuple(variables)
        self.masks = masks[order]
        self.log_weights = (lw - logsumexp(lw))[order]
        self.weighting: Weighting = weighting
        self.scorer = scorer
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)[order]
        self.log_scores = None if log_scores is None else np.asarray(log_scores, dtype=float)[order]
        self.info: dict[str, Any] = dict(info or {})
        self.theories = None if theories is None else [theories[int(i)] for i in order]
        if self.theories is not None and len(self.theories) != self.masks.shape[0]:
            raise InputError("theories must hold one theory per DAG.")

    @classmethod
    def from_theories(
        cls, theories: Sequence[Theory], weights: Sequence[float] | None = None
    ) -> Posterior:
        """A posterior over explicit theories (exact weights; uniform when not given)."""
        theories = list(theories)
        if not theories:
            raise InputError("theories is empty: give at least one Theory.")
        names = theories[0].names
        if any(t.names != names for t in theories):
            raise InputError("All theories must have the same variables in the same order.")
        w = np.ones(len(theories)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(theories),) or np.any(w < 0) or not w.sum() > 0:
            raise InputError(
                f"weights={weights!r} is invalid: expected {len(theories)} non-negative numbers, not all zero."
            )
        with np.errstate(divide="ignore"):
            lw = np.log(w)
        masks = parent_masks(np.stack([t.adjacency for t in theories]))
        return cls(
            theories[0].variables,
            masks,
            lw,
            weighting="exact",
            theories=theories,
            info={"source": "explicit theories"},
        )

    @classmethod
    def from_samples(
        cls,
        variables: Sequence[Variable],
        samples: np.ndarray,
        log_score_fn: Any,
        *,
        weighting: Literal["empirical", "rescored"] = "rescored",
        scorer: LocalScorer | None = None,
        info: dict[str, Any] | None = None,
    ) -> Posterior:
        """Collapse sampled parent masks ``(..., d)`` into distinct DAGs with counts.

        ``log_score_fn(masks) -> log P(D | G) + log P(G)`` scores the distinct DAGs.
        """
        flat = np.asarray(samples, dtype=np.int64).reshape(-1, len(variables))
        uniq, counts = np.unique(flat, axis=0, return_counts=True)
        log_scores = np.asarray(log_score_fn(uniq), dtype=float)
        lw = log_scores if weighting == "rescored" else np.log(counts)
        info = {**(info or {}), "n_samples": int(flat.shape[0]), "n_distinct": int(uniq.shape[0])}
        return cls(
            variables,
            uniq,
            lw,
            weighting=weighting,
            scorer=scorer,
            counts=counts,
            log_scores=log_scores,
            info=info,
        )

    # ------------------------------------------------------------------ basic views
    @property
    def names(self) -> list[str]:
        """Variable names."""
        return [v.name for v in self.variables]

    @property
    def n_theories(self) -> int:
        """Number of distinct DAGs."""
        return int(self.masks.shape[0])

    def __len__(self) -> int:
        return self.n_theories

    @property
    def weights(self) -> np.ndarray:
        """Posterior probability of each theory (sums to 1), in decreasing order."""
        return np.exp(self.log_weights)

    def adjacency(self, k: int | None = None) -> np.ndarray:
        """Adjacency of theory ``k`` ``(d, d)``, or of all theories ``(K, d, d)``."""
        return adjacency_from_masks(self.masks if k is None else self.masks[k])

    def edge_marginals(self) -> np.ndarray:
        """``P(i -> j | D)`` as a ``(d, d)`` matrix."""
        w = self.weights
        d = len(self.variables)
        out = np.empty((d, d))
        for i in range(d):
            out[i] = w @ ((self.masks >> i) & 1)
        return out

    def path_marginals(self) -> np.ndarray:
        """``P(i ~> j | D)``: probability that ``i`` is a causal ancestor of ``j``."""
        return np.einsum("k,kij->ij", self.weights, transitive_closure(self.adjacency()))

    def fingerprint(self) -> str:
        """A short SHA-256 digest of the variables, theories, weights and data."""
        import hashlib

        h = hashlib.sha256()
        h.update(json.dumps([v.to_dict() for v in self.variables]).encode())
        h.update(np.ascontiguousarray(self.masks).tobytes())
        h.update(np.round(self.log_weights, 12).tobytes())
        h.update(str(self.info.get("data_fingerprint", "")).encode())
        return h.hexdigest()[:16]

    def stacked_parameters(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Explicit theories only: the point CPTs of ``node``, grouped by parent set.

        Returns the theories' order by parent mask and, for that order, the CPTs stacked per
        parent-set group (a dict ``mask -> (theory indices, (n, *cards, r) array)``). Computed
        once per posterior and node (a pure function of the posterior).
        """
        cache = self.__dict__.setdefault("_stacked", {})
        if node not in cache:
            if self.theories is None:
                raise InputError("stacked_parameters needs a posterior of explicit theories.")
            masks = self.masks[:, node]
            groups = {}
            for mask in np.unique(masks):
                idx = np.flatnonzero(masks == mask)
                cpts = [getattr(self.theories[int(k)].families[node], "cpt", None) for k in idx]
                if any(c is None for c in cpts):
                    raise InputError("stacked_parameters needs categorical theories.")
                groups[int(mask)] = (idx, np.stack(cpts))  # type: ignore[arg-type]
            cache[node] = groups
        return cache[node]

    def theory(self, k: int = 0) -> Theory:
        """Theory ``k`` (0 is the most probable) with its parameter posterior."""
        if not 0 <= k < self.n_theories:
            raise InputError(f"k={k!r} is invalid: expected 0 <= k < {self.n_theories}.")
        if self.theories is not None:
            return self.theories[k]
        if self.scorer is None:
            raise InputError("This posterior has no parameter model: it holds structures only.")
        return Theory.from_scorer(self.scorer, self.adjacency(k))

    def top(self, k: int = 5) -> list[tuple[Theory, float]]:
        """The ``k`` most probable theories with their posterior probabilities."""
        if not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"k={k!r} is invalid: expected a positive integer.")
        return [(self.theory(i), float(self.weights[i])) for i in range(min(k, self.n_theories))]

    def mass_top(self, k: int) -> float:
        """Total probability of the ``k`` most probable theories."""
        return float(self.weights[:k].sum())

    def describe(self, k: int = 3) -> str:
        """The top ``k`` theories in plain words, with the weighting used."""
        lines = [
            f"Posterior over {self.n_theories:,} theories of {len(self.variables)} variables "
            f"({self.weighting} weights"
            + (f", {self.info['n_samples']:,} samples" if "n_samples" in self.info else "")
            + ")"
        ]
        for i in range(min(k, self.n_theories)):
            lines.append(f"\n#{i + 1}  P = {self.weights[i]:.3f}")
            if self.scorer is not None or self.theories is not None:
                lines.extend("  " + s for s in self.theory(i).describe().splitlines())
            else:
                adj = self.adjacency(i)
                lines.extend(
                    f"  {self.names[a]} -> {self.names[b]}"
                    for a, b in zip(*np.nonzero(adj), strict=True)
                )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Posterior({self.n_theories} theories, {len(self.variables)} variables, "
            f"weighting={self.weighting!r})"
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the posterior atomically (see the module docstring for the format)."""
        path = Path(path)
        if path.is_dir():
            raise InputError(
                f"path={str(path)!r} is a directory: give a file name such as posterior.npz."
            )
        if not path.parent.exists():
            raise InputError(f"path={str(path)!r}: the folder {str(path.parent)!r} does not exist.")
        arrays: dict[str, np.ndarray] = {
            "masks": self.masks,
            "log_weights": self.log_weights,
        }
        if self.counts is not None:
            arrays["counts"] = self.counts
        if self.log_scores is not None:
            arrays["log_scores"] = self.log_scores
        scalars: dict[str, Any] = {}
        if self.scorer is not None:
            for key, value in self.scorer.state().items():
                if isinstance(value, np.ndarray):
                    arrays[f"scorer.{key}"] = value
                else:
                    scalars[key] = value
        families_meta: list[list[dict[str, Any]]] = []
        for k, theory in enumerate(self.theories or []):
            row: list[dict[str, Any]] = []
            for j, fam in enumerate(theory.families):
                key = f"theory.{k}.{j}"
                if isinstance(fam, CategoricalFamily):
                    arrays[key + ".cpt"] = fam.cpt
                    if fam.concentration is not None:
                        arrays[key + ".concentration"] = fam.concentration
                    row.append({"kind": "categorical", "parents": list(fam.parents)})
                else:
                    arrays[key + ".coef"] = fam.coef
                    if fam.coef_cov_unit is not None:
                        arrays[key + ".coef_cov_unit"] = fam.coef_cov_unit
                    row.append(
                        {
                            "kind": "gaussian",
                            "parents": list(fam.parents),
                            "intercept": fam.intercept,
                            "noise_var": fam.noise_var,
                            "shape": fam.shape,
                            "scale": fam.scale,
                        }
                    )
            families_meta.append(row)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "variables": [v.to_dict() for v in self.variables],
            "weighting": self.weighting,
            "scorer": None if self.scorer is None else self.scorer.kind,
            "scorer_scalars": scalars,
            "info": self.info,
            "theories": families_meta if self.theories is not None else None,
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> Posterior:
        """Read a file written by :meth:`save`; a clear error for a corrupt or foreign file."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"path={str(path)!r}: no such file.")
        what = f"{str(path)!r} is not a scientist posterior file"
        try:
            with path.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise FileFormatError(f"{what} (it is not a readable .npz archive: {exc}).") from None
        try:
            meta = json.loads(arrays.pop("meta").tobytes().decode())
        except (KeyError, UnicodeDecodeError, json.JSONDecodeError):
            raise FileFormatError(f"{what} (no readable 'meta' record).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise FileFormatError(
                f"{what} (format {meta.get('format') if isinstance(meta, dict) else None!r})."
            )
        version = meta.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise FileFormatError(
                f"{str(path)!r} has format version {version!r}; this release reads versions up to "
                f"{VERSION}. Upgrade scientist-ai to read it."
            )
        try:
            variables = [Variable.from_dict(v) for v in meta["variables"]]
            scorer = None
            if meta.get("scorer"):
                state = {
                    k[len("scorer.") :]: v for k, v in arrays.items() if k.startswith("scorer.")
                }
                state.update(meta.get("scorer_scalars", {}))
                scorer = scorer_from_state(meta["scorer"], variables, state)
            theories = None
            if meta.get("theories") is not None:
                theories = [
                    _theory_from_arrays(variables, arrays, k, row)
                    for k, row in enumerate(meta["theories"])
                ]
            return cls(
                variables,
                arrays["masks"],
                arrays["log_weights"],
                weighting=meta["weighting"],
                scorer=scorer,
                counts=arrays.get("counts"),
                log_scores=arrays.get("log_scores"),
                info=meta.get("info", {}),
                theories=theories,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FileFormatError(f"{str(path)!r} is a corrupt posterior file: {exc!s}.") from None


def _theory_from_arrays(
    variables: list[Variable], arrays: dict[str, np.ndarray], k: int, row: list[dict[str, Any]]
) -> Theory:
    d = len(variables)
    adj = np.zeros((d, d), dtype=bool)
    fams: list[CategoricalFamily | GaussianFamily] = []
    for j, f in enumerate(row):
        key = f"theory.{k}.{j}"
        parents = tuple(int(p) for p in f["parents"])
        adj[list(parents), j] = True
        if f["kind"] == "categorical":
            fams.append(
                CategoricalFamily(parents, arrays[key + ".cpt"], arrays.get(key + ".concentration"))
            )
        else:
            fams.append(
                GaussianFamily(
                    parents,
                    arrays[key + ".coef"],
                    float(f["intercept"]),
                    float(f["noise_var"]),
                    arrays.get(key + ".coef_cov_unit"),
                    f.get("shape"),
                    f.get("scale"),
                )
            )
    return Theory(variables, adj, fams)
