"""One place that turns library errors into a one-line message and exit code 2 for every CLI."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from scientist.errors import ScientistError

__all__ = ["err_console", "friendly"]

err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Turn library errors (user mistakes) into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ScientistError as exc:
            err_console.print(
                f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
