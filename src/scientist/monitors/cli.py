"""``scientist lie-detector``: train, inspect and apply the black-box lie detector.

Commands
--------
``train``   fit a detector on a shipped model's features and save it as JSON;
``score``   print (or write) the probability of a lie for each row of a features CSV;
``probes``  list the 65 elicitation questions, in the column order of a features CSV.

References
----------
.. [1] L. Pacchiardi et al., "How to Catch an AI Liar: Lie Detection in Black-Box LLMs by
   Asking Unrelated Questions", ICLR 2024, arXiv:2309.15840.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from scientist.errors import FileFormatError, InputError
from scientist.monitors.data import (
    GROUPS,
    MODELS,
    N_PROBES,
    group_indices,
    load_lie_detector_data,
    load_probes,
)
from scientist.monitors.detector import LieDetector

app = typer.Typer(
    help="Black-box lie detection for LLMs (Pacchiardi et al., ICLR 2024).",
    no_args_is_help=True,
)

_console = Console()


def _groups(value: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    try:
        group_indices(names)
    except InputError as exc:
        raise typer.BadParameter(
            f"{value!r}: {exc} Example: --groups lie,factual", param_hint="'--groups'"
        ) from None
    return names


@app.command()
def train(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the detector (JSON).")
    ],
    model: Annotated[
        str,
        typer.Option("--model", help=f"Whose shipped features to train on: {', '.join(MODELS)}."),
    ] = "text-davinci-003",
    groups: Annotated[
        str,
        typer.Option("--groups", help=f"Comma-separated probe groups among {', '.join(GROUPS)}."),
    ] = ",".join(GROUPS),
    features: Annotated[
        str, typer.Option("--features", help="'logprob' or 'binary' (yes/no answers only).")
    ] = "logprob",
) -> None:
    """Fit a lie detector on all shipped question pairs of one model and save it."""
    if model not in MODELS:
        raise typer.BadParameter(
            f"{model!r} is not a shipped model: expected one of {', '.join(MODELS)}.",
            param_hint="'--model'",
        )
    if features not in ("logprob", "binary"):
        raise typer.BadParameter(
            f"{features!r} is invalid: expected 'logprob' or 'binary'.",
            param_hint="'--features'",
        )
    names = _groups(groups)
    if not output.parent.is_dir():
        raise typer.BadParameter(
            f"{str(output)!r}: the folder {str(output.parent)!r} does not exist. "
            "Create it or choose another path.",
            param_hint="'--output' / '-o'",
        )
    data = load_lie_detector_data(model)
    detector = LieDetector(groups=names, features=features)  # type: ignore[arg-type]
    detector.fit(data.X, data.is_lie)
    detector.save(output)
    _console.print(
        f"Trained a {features} lie detector on {detector.n_train_ // 2} {model} question pairs "
        f"({detector.n_train_} answers, {len(detector.columns_)} elicitation questions: "
        f"{', '.join(names)}); saved to {output}"
    )


def _read_features(path: Path) -> NDArray[np.float64]:
    hint = "'FEATURES'"
    if not path.is_file():
        raise typer.BadParameter(
            f"{str(path)!r} does not exist or is not a file: pass a CSV with {N_PROBES} "
            "numeric columns (see `scientist lie-detector probes`).",
            param_hint=hint,
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise typer.BadParameter(
            f"{str(path)!r} is not a text CSV file: expected UTF-8 text with {N_PROBES} "
            "numeric columns.",
            param_hint=hint,
        ) from None
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if rows and not any(_number(cell) for cell in rows[0][1]):
        rows = rows[1:]  # a header line: no cell is a number
    if not rows:
        raise typer.BadParameter(
            f"{str(path)!r} has no data rows: expected one row of {N_PROBES} numbers per answer.",
            param_hint=hint,
        )
    values = []
    for line, row in rows:
        if len(row) != N_PROBES:
            raise typer.BadParameter(
                f"{str(path)!r}: line {line} has {len(row)} columns, expected {N_PROBES} "
                "(one per elicitation question, in the order of `scientist lie-detector "
                "probes`).",
                param_hint=hint,
            )
        bad = [cell for cell in row if not _number(cell)]
        if bad:
            raise typer.BadParameter(
                f"{str(path)!r}: line {line} holds values that are not numbers "
                f"({', '.join(repr(c) for c in bad[:3])}): expected {N_PROBES} numbers "
                "(log-probability differences, or 0/1).",
                param_hint=hint,
            )
        values.append([float(cell) for cell in row])
    return np.array(values, dtype=np.float64)


def _number(cell: str) -> bool:
    try:
        return not math.isnan(float(cell))
    except ValueError:
        return False


@app.command()
def score(
    detector_path: Annotated[
        Path, typer.Argument(metavar="DETECTOR", help="A detector saved by `train`.")
    ],
    features_path: Annotated[
        Path,
        typer.Argument(
            metavar="FEATURES",
            help=f"CSV with {N_PROBES} numeric columns per row (an optional header line).",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write a CSV with a p_lie column instead."),
    ] = None,
) -> None:
    """Print the probability that each row's answer was a lie."""
    if not detector_path.is_file():
        raise typer.BadParameter(
            f"{str(detector_path)!r} does not exist or is not a file: pass a detector written "
            "by `scientist lie-detector train`.",
            param_hint="'DETECTOR'",
        )
    try:
        detector = LieDetector.load(detector_path)
    except FileFormatError as exc:
        raise typer.BadParameter(str(exc), param_hint="'DETECTOR'") from None
    X = _read_features(features_path)
    try:
        p_lie = detector.predict_proba(X)
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="'FEATURES'") from None
    if output is not None:
        if not output.parent.is_dir():
            raise typer.BadParameter(
                f"{str(output)!r}: the folder {str(output.parent)!r} does not exist.",
                param_hint="'--output' / '-o'",
            )
        lines = ["row,p_lie", *(f"{i},{p!r}" for i, p in enumerate(p_lie.tolist(), start=1))]
        output.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _console.print(f"Wrote {len(p_lie)} scores to {output}")
        return
    table = Table(title=f"P(lie) by {detector_path.name} ({detector.features} features)")
    table.add_column("row", justify="right")
    table.add_column("P(lie)", justify="right")
    for i, p in enumerate(p_lie.tolist(), start=1):
        table.add_row(str(i), f"{p:.4f}")
    _console.print(table)


@app.command()
def probes() -> None:
    """List the 65 elicitation questions (the columns of a features CSV) and their groups."""
    member = {i: name for name in GROUPS for i in group_indices(name)}
    table = Table(title="Elicitation questions (Pacchiardi et al., 2024)")
    table.add_column("column", justify="right")
    table.add_column("group")
    table.add_column("question")
    for i, probe in enumerate(load_probes()):
        table.add_row(str(i), member.get(i, "-"), probe.text)
    _console.print(table)
