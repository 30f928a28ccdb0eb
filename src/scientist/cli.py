"""The ``scientist`` command line: thin wrappers over the library, printed with Rich."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="scientist",
    help="A non-agentic Scientist AI: learn causal theories, ask questions, guard actions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# sub-command groups are registered below
from scientist.monitors.cli import app as _lie_detector_app  # noqa: E402

app.add_typer(_lie_detector_app, name="lie-detector")


def main() -> None:
    """Entry point of the console script."""
    app()
