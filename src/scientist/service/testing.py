"""Run ``scientist serve`` in a child process, for integration tests and load benchmarks.

:func:`running_server` starts the command line on a free loopback port, waits until the
service answers (``GET /healthz`` returns 200, or a line of its log says it is ready), yields a
:class:`ServerProcess`, and stops the service with SIGINT, as Ctrl-C would, when the block
ends. The in-process alternative, with no port and no child process, is
``httpx.ASGITransport(app=create_app(service))``.

Example
-------
>>> from scientist.service.testing import running_server
>>> with running_server(["--posterior", "asia=asia.npz"], log="serve.log") as server:
...     httpx.get(f"{server.url}/v1/posteriors", headers=...)          # doctest: +SKIP
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ServerError", "ServerProcess", "free_port", "running_server"]


class ServerError(RuntimeError):
    """The service exited or did not become ready in time; the message holds its log."""


@dataclass(frozen=True)
class ServerProcess:
    """A started ``scientist serve``: its base URL, its process and the file it logs to."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        """What the service has written so far."""
        return self.log.read_text(errors="replace")


_BIND_ATTEMPTS = 3
_PORT_TAKEN = "address already in use"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    args: Sequence[str],
    *,
    log: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    ready_line: str | None = None,
    start_timeout: float = 60.0,
    stop_timeout: float = 20.0,
) -> Iterator[ServerProcess]:
    """Start ``scientist serve *args`` on a free loopback port; stop it when the block ends.

    Parameters
    ----------
    args
        The arguments after ``serve``, without ``--host`` and ``--port`` (this function picks
        them).
    log
        The file that receives the service's standard output and error.
    cwd
        The child's working directory (default: this process's).
    ready_line
        If given, the service counts as ready once its log contains this text (``scientist
        serve --ray`` prints ``ready:``); otherwise once ``GET /healthz`` answers 200.
    start_timeout, stop_timeout
        Seconds to wait for the service to become ready, and to exit after SIGINT before it is
        killed.

    Raises
    ------
    ServerError
        If the service exits or is not ready within ``start_timeout`` seconds; the child is
        stopped first. A service that exits because another process took its port in the
        meantime is started again on another port (three tries in all).
    """
    if start_timeout <= 0 or stop_timeout <= 0:
        raise ValueError(
            f"start_timeout={start_timeout!r}, stop_timeout={stop_timeout!r}: both must be "
            "positive numbers of seconds."
        )
    log_path = Path(log)
    for attempt in range(_BIND_ATTEMPTS):
        port = free_port()
        cmd = [sys.executable, "-c", "from scientist.cli import main; main()", "serve", *args]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        with log_path.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        server = ServerProcess(f"http://127.0.0.1:{port}", proc, log_path)
        try:
            _wait_ready(server, ready_line, start_timeout)
            break
        except ServerError:
            _stop(proc, stop_timeout)
            # another process took the port between free_port() and the bind: try another
            if attempt + 1 < _BIND_ATTEMPTS and _PORT_TAKEN in server.log_text().lower():
                continue
            raise
    try:
        yield server
    finally:
        _stop(proc, stop_timeout)


def _wait_ready(server: ServerProcess, ready_line: str | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise ServerError(
                f"scientist serve exited with status {server.process.returncode}:\n"
                f"{server.log_text()}"
            )
        if ready_line is not None:
            if ready_line in server.log_text():
                return
        else:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        if time.monotonic() > deadline:
            raise ServerError(
                f"scientist serve was not ready after {timeout:g} s:\n{server.log_text()}"
            )
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
