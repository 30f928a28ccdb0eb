"""Versioned ``.npz`` files for irreducible losses and selection records: atomic, no pickles.

A file holds named arrays plus a ``meta`` JSON record with ``format`` (what the file is) and
``version``; a foreign, corrupt or newer file gives a :class:`FileFormatError` that says so.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from scientist.errors import FileFormatError, InputError

__all__ = ["VERSION", "load_npz", "save_npz"]

VERSION = 1


def save_npz(
    path: str | Path, kind: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> Path:
    """Write ``arrays`` and ``meta`` to ``path`` atomically (no partial file on failure)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"path={str(path)!r} is a directory: give a file name such as {kind}.npz.")
    if not path.parent.is_dir():
        raise InputError(
            f"path={str(path)!r} is invalid: its folder {str(path.parent)!r} does not exist. "
            "Create it first or choose another path."
        )
    record = {"format": f"scientist.selection.{kind}", "version": VERSION, **meta}
    payload = {**arrays, "meta": np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **payload)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_npz(path: str | Path, kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`save_npz` for ``kind``; return ``(arrays, meta)``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"path={str(path)!r}: no such file.")
    what = f"{str(path)!r} is not a scientist {kind} file"
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FileFormatError(f"{what} (it is not a readable .npz archive: {exc}).") from None
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError):
        raise FileFormatError(f"{what} (no readable 'meta' record).") from None
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != f"scientist.selection.{kind}":
        raise FileFormatError(f"{what} (format {found!r}).")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise FileFormatError(
            f"{str(path)!r} has format version {version!r}; this release reads versions up to "
            f"{VERSION}. Upgrade scientist-ai to read it."
        )
    return arrays, meta
