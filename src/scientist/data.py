"""Datasets: named variables, rows, and a per-row intervention mask.

A :class:`Dataset` holds ``n`` rows of ``d`` named variables. Each variable is either
*categorical* (with an ordered tuple of states; values are stored as integer codes) or
*continuous*. Each row also records which variables were set by a perfect intervention in that
row (several targets per row are allowed). Scores leave the intervened rows out of a node's
family (Cooper & Yoo 1999; Eaton & Murphy 2007).

References
----------
.. [1] G. Cooper and C. Yoo, "Causal discovery from a mixture of experimental and observational
   data", UAI 1999.
.. [2] D. Eaton and K. Murphy, "Exact Bayesian structure learning from uncertain interventions",
   AISTATS 2007.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from scientist.errors import DataError

__all__ = ["Dataset", "Variable"]

Kind = Literal["categorical", "continuous"]


@dataclass(frozen=True)
class Variable:
    """A named variable: categorical with ``states``, or continuous (``states`` is None)."""

    name: str
    kind: Kind
    states: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DataError(f"Variable name {self.name!r} is invalid: expected a non-empty string.")
        if self.kind not in ("categorical", "continuous"):
            raise DataError(
                f"Variable {self.name!r}: kind={self.kind!r} is invalid; "
                "expected 'categorical' or 'continuous'."
            )
        if self.kind == "categorical":
            if self.states is None or len(self.states) < 2:
                raise DataError(
                    f"Variable {self.name!r} is categorical with states={self.states!r}: a "
                    "categorical variable needs at least two states. Drop the constant column "
                    "or declare its other states."
                )
            if len(set(self.states)) != len(self.states):
                raise DataError(f"Variable {self.name!r} has duplicate states {self.states!r}.")
        elif self.states is not None:
            raise DataError(f"Variable {self.name!r} is continuous but has states {self.states!r}.")

    @property
    def cardinality(self) -> int:
        """Number of states (0 for a continuous variable)."""
        return 0 if self.states is None else len(self.states)

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable description."""
        return {"name": self.name, "kind": self.kind, "states": list(self.states or []) or None}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Variable:
        """Inverse of :meth:`to_dict`."""
        states = d.get("states")
        labels = (
            tuple(str(s) for s in states) if isinstance(states, list | tuple) and states else None
        )
        return cls(str(d["name"]), d["kind"], labels)  # type: ignore[arg-type]


class Dataset:
    """Rows of named variables with a per-row intervention mask.

    Parameters
    ----------
    variables
        The variables, in column order. Names must be unique.
    values
        Array of shape ``(n, d)``. Continuous columns hold floats; categorical columns hold
        integer codes into the variable's ``states``.
    interventions
        Boolean array of shape ``(n, d)``; entry ``[r, j]`` is True when variable ``j`` was set by
        a perfect intervention in row ``r``. Default: all False (observational data).

    Notes
    -----
    Build datasets with :meth:`from_pandas`, :meth:`from_csv` or :meth:`from_numpy`; they infer
    variable kinds and check the data.
    """

    def __init__(
        self,
        variables: Sequence[Variable],
        values: np.ndarray,
        interventions: np.ndarray | None = None,
    ) -> None:
        variables = list(variables)
        names = [v.name for v in variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DataError(
                f"Duplicate variable names {dupes}: every variable needs a unique name."
            )
        values = np.asarray(values, dtype=float)
        if values.ndim != 2 or values.shape[1] != len(variables):
            raise DataError(
                f"values has shape {values.shape}; expected (n_rows, {len(variables)}) to match "
                "the variables."
            )
        if values.shape[0] == 0:
            raise DataError("The dataset has no rows: at least one row is needed.")
        bad = ~np.isfinite(values)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(
                f"Column {names[c]!r} holds {values[r, c]} at row {r} ({int(bad.sum())} non-finite "
                "value(s) in all): remove or impute NaN and inf before building a Dataset."
            )
        for j, v in enumerate(variables):
            if v.kind == "categorical":
                col = values[:, j]
                if np.any(col != np.round(col)) or col.min() < 0 or col.max() >= v.cardinality:
                    raise DataError(
                        f"Column {v.name!r} is categorical with {v.cardinality} states, but holds "
                        f"values outside the codes 0..{v.cardinality - 1}."
                    )
        if interventions is None:
            interventions = np.zeros(values.shape, dtype=bool)
        interventions = np.asarray(interventions)
        if interventions.shape != values.shape:
            raise DataError(
                f"interventions has shape {interventions.shape}; expected {values.shape}, "
                "one flag per row and variable."
            )
        self.variables: tuple[Variable, ...] = tuple(variables)
        self.values: np.ndarray = values
        self.interventions: np.ndarray = interventions.astype(bool)
        self.values.setflags(write=False)
        self.interventions.setflags(write=False)

    # ------------------------------------------------------------------ properties
    @property
    def names(self) -> list[str]:
        """Variable names in column order."""
        return [v.name for v in self.variables]

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.values.shape[0])

    @property
    def n_vars(self) -> int:
        """Number of variables ``d``."""
        return len(self.variables)

    @property
    def kind(self) -> Literal["categorical", "continuous", "mixed"]:
        """``'categorical'`` or ``'continuous'`` when all variables agree, else ``'mixed'``."""
        kinds = {v.kind for v in self.variables}
        return kinds.pop() if len(kinds) == 1 else "mixed"  # type: ignore[return-value]

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of states per variable (0 for continuous)."""
        return np.array([v.cardinality for v in self.variables], dtype=int)

    def codes(self) -> np.ndarray:
        """Integer codes of all columns (meaningful for categorical data)."""
        return self.values.astype(np.int64)

    def index(self, name: str) -> int:
        """Column index of a variable; a clear error for an unknown name."""
        try:
            return self.names.index(name)
        except ValueError:
            raise DataError(f"Unknown variable {name!r}; the variables are {self.names}.") from None

    def fingerprint(self) -> str:
        """A short SHA-256 digest of the variables, values and interventions."""
        h = hashlib.sha256()
        h.update(repr([v.to_dict() for v in self.variables]).encode())
        h.update(np.ascontiguousarray(self.values).tobytes())
        h.update(np.ascontiguousarray(self.interventions).tobytes())
        return h.hexdigest()[:16]

    def __repr__(self) -> str:
        n_int = int(self.interventions.any(axis=1).sum())
        return (
            f"Dataset({self.n_rows} rows x {self.n_vars} {self.kind} variables, "
            f"{n_int} interventional rows)"
        )

    # ------------------------------------------------------------------ transforms
    def standardize(self) -> Dataset:
        """A copy with every continuous column centred and scaled to unit variance.

        Statistics use the observational rows of each column when there are at least two,
        otherwise all rows.
        """
        values = self.values.copy()
        for j, v in enumerate(self.variables):
            if v.kind != "continuous":
                continue
            obs = values[~self.interventions[:, j], j]
            ref = obs if obs.size >= 2 else values[:, j]
            sd = ref.std()
            values[:, j] = (values[:, j] - ref.mean()) / (sd if sd > 0 else 1.0)
        return Dataset(self.variables, values, self.interventions)

    def to_pandas(self, interventions_column: str | None = None) -> pd.DataFrame:
        """The data as a DataFrame.

        Categorical columns have pandas' ``category`` dtype with the variable's states, in
        order, as the categories, so :meth:`from_pandas` reads back the same states, also those
        that no row takes.
        """
        cols: dict[str, object] = {}
        for j, v in enumerate(self.variables):
            if v.kind == "categorical":
                cols[v.name] = pd.Categorical.from_codes(
                    self.values[:, j].astype(int), categories=list(v.states or ())
                )
            else:
                cols[v.name] = self.values[:, j]
        df = pd.DataFrame(cols)
        if interventions_column is not None:
            df[interventions_column] = [
                ";".join(self.names[j] for j in np.flatnonzero(row)) for row in self.interventions
            ]
        return df

    def to_csv(self, path: str | Path, interventions_column: str = "interventions") -> None:
        """Write a CSV that :meth:`from_csv` reads back (atomically: no partial file)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        self.to_pandas(interventions_column).to_csv(tmp, index=False)
        tmp.replace(path)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_numpy(
        cls,
        values: np.ndarray,
        names: Sequence[str] | None = None,
        *,
        states: Mapping[str, Sequence[str]] | None = None,
        interventions: np.ndarray | None = None,
    ) -> Dataset:
        """Build from a numeric array.

        Parameters
        ----------
        values
            ``(n, d)`` array. Columns named in ``states`` hold integer codes.
        names
            Variable names; default ``X0 .. X{d-1}``.
        states
            For categorical columns, a mapping from name to its states; the other columns are
            continuous.
        interventions
            Boolean ``(n, d)`` intervention mask.
        """
        values = np.asarray(values)
        if values.ndim != 2:
            raise DataError(f"values has shape {values.shape}; expected a 2-D (n_rows, d) array.")
        if not np.issubdtype(values.dtype, np.number) and values.dtype != bool:
            raise DataError(
                f"values has dtype {values.dtype}; expected numbers. Use Dataset.from_pandas for "
                "labelled data."
            )
        d = values.shape[1]
        names = list(names) if names is not None else [f"X{j}" for j in range(d)]
        if len(names) != d:
            raise DataError(f"names has {len(names)} entries; expected {d}, one per column.")
        states = dict(states or {})
        unknown = sorted(set(states) - set(names))
        if unknown:
            raise DataError(f"states names unknown variables {unknown}; the variables are {names}.")
        variables = [
            Variable(n, "categorical", tuple(str(s) for s in states[n]))
            if n in states
            else Variable(n, "continuous")
            for n in names
        ]
        return cls(variables, values.astype(float), interventions)

    @classmethod
    def from_pandas(
        cls,
        df: pd.DataFrame,
        *,
        interventions_column: str | None = None,
        categorical: Iterable[str] | None = None,
        interventions: np.ndarray | None = None,
    ) -> Dataset:
        """Build from a DataFrame, inferring each column's kind.

        Numeric columns are continuous unless named in ``categorical``; text, boolean and
        ``category`` columns are categorical (states in sorted order, or the category order).

        Parameters
        ----------
        df
            One column per variable (plus, optionally, the interventions column).
        interventions_column
            Name of a column listing, per row, the intervened variables separated by ``;``
            (for example ``"Raf;Mek"``); empty or missing means observational.
        categorical
            Numeric columns to treat as categorical.
        interventions
            Alternatively, a boolean ``(n, d)`` mask.
        """
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"df is a {type(df).__name__}; expected a pandas DataFrame.")
        df = df.copy()
        mask_col = None
        if interventions_column is not None:
            if interventions_column not in df.columns:
                raise DataError(
                    f"interventions_column={interventions_column!r} is not a column; the columns "
                    f"are {[str(c) for c in df.columns]}."
                )
            mask_col = df.pop(interventions_column)
        names = [str(c) for c in df.columns]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"Duplicate variable names {dupes}: every column needs a unique name.")
        if len(df) == 0:
            raise DataError("The dataset has no rows: at least one row is needed.")
        forced = set(categorical or [])
        unknown = sorted(forced - set(names))
        if unknown:
            raise DataError(
                f"categorical names unknown columns {unknown}; the columns are {names}."
            )
        variables: list[Variable] = []
        columns: list[np.ndarray] = []
        for name in names:
            var, col = _column(name, df[name], name in forced)
            variables.append(var)
            columns.append(col)
        values = np.column_stack(columns)
        if mask_col is not None:
            if interventions is not None:
                raise DataError("Pass either interventions_column or interventions, not both.")
            interventions = _parse_mask(mask_col, names)
        return cls(variables, values, interventions)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        *,
        interventions_column: str | None = None,
        categorical: Iterable[str] | None = None,
        sep: str = ",",
    ) -> Dataset:
        """Read a CSV file (header row of variable names); see :meth:`from_pandas`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"path={str(path)!r}: no such file. Check the path to the CSV file.")
        try:
            dtype = {interventions_column: object} if interventions_column else None
            df = pd.read_csv(path, sep=sep, dtype=dtype)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"Cannot read {str(path)!r} as CSV: {exc}") from None
        if interventions_column is not None and interventions_column in df.columns:
            col = df[interventions_column]
            df[interventions_column] = col.where(col.notna(), "").astype(str)
        return cls.from_pandas(
            df, interventions_column=interventions_column, categorical=categorical
        )


def _column(name: str, s: pd.Series, force_categorical: bool) -> tuple[Variable, np.ndarray]:
    """Infer a column's variable and its float values (codes for categoricals)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        if s.isna().any():
            raise DataError(f"Column {name!r} holds missing values: remove or impute them.")
        states = tuple(str(c) for c in s.cat.categories)
        return Variable(name, "categorical", states), s.cat.codes.to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(s):
        return Variable(name, "categorical", ("False", "True")), s.to_numpy(dtype=float)
    if pd.api.types.is_numeric_dtype(s):
        values = s.to_numpy(dtype=float)
        if not force_categorical:
            return Variable(name, "continuous"), values
        if not np.all(np.isfinite(values)):
            raise DataError(f"Column {name!r} holds NaN or inf: remove or impute them.")
        uniq = np.unique(values)
        labels = tuple(_fmt(u) for u in uniq)
        return Variable(name, "categorical", labels), np.searchsorted(uniq, values).astype(float)
    # text column: all labels, or a mix of numbers and labels (an error)
    if s.isna().any():
        raise DataError(
            f"Column {name!r} holds {int(s.isna().sum())} missing value(s) (first at row "
            f"{int(np.flatnonzero(s.isna().to_numpy())[0])}): remove or impute them."
        )
    text = s.astype(str)
    numeric = pd.to_numeric(text, errors="coerce").notna()
    if numeric.any() and not numeric.all():
        num_row = int(np.flatnonzero(numeric.to_numpy())[0])
        lab_row = int(np.flatnonzero(~numeric.to_numpy())[0])
        raise DataError(
            f"Column {name!r} mixes numbers and labels (e.g. {text.iloc[num_row]!r} at row "
            f"{num_row} and {text.iloc[lab_row]!r} at row {lab_row}): make the column all "
            "numbers or all labels."
        )
    # text is categorical; labels that are all numbers sort by value ("2" before "10")
    key = (lambda u: float(u)) if numeric.all() else None
    uniq = np.array(sorted(set(text), key=key), dtype=object)
    lookup = {u: k for k, u in enumerate(uniq)}
    return Variable(name, "categorical", tuple(uniq)), text.map(lookup).to_numpy(dtype=float)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _parse_mask(col: pd.Series, names: list[str]) -> np.ndarray:
    """Parse a column of ``;``-separated intervened variable names into a boolean mask."""
    index = {n: j for j, n in enumerate(names)}
    mask = np.zeros((len(col), len(names)), dtype=bool)
    for r, cell in enumerate(col.tolist()):
        if cell is None or (isinstance(cell, float) and np.isnan(cell)):
            continue
        for target in str(cell).split(";"):
            target = target.strip()
            if not target:
                continue
            if target not in index:
                raise DataError(
                    f"Row {r} of the interventions column names {target!r}, which is not a "
                    f"variable; the variables are {names}. Separate several targets with ';'."
                )
            mask[r, index[target]] = True
    return mask
