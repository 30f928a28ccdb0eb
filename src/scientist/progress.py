"""Rich progress bars for long work, off by default in library calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(enabled: bool, description: str, total: int) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, **fields)``; a no-op when ``enabled`` is False.

    Extra fields (for example ``acceptance=0.31``) are shown after the bar.
    """
    if not enabled:
        yield lambda *args, **kwargs: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(n: int = 1, **fields: object) -> None:
            info = "  ".join(f"{k}={v}" for k, v in fields.items())
            bar.update(task, advance=n, info=info)

        yield advance
