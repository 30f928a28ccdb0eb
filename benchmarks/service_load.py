"""Load on the guard service: throughput, latency, errors and audit rows at increasing rates.

Builds a posterior of 1,000 theories (order MCMC on 2,000 rows sampled from the Asia network,
the 1,000 heaviest distinct DAGs kept, weights rescored) and a harm spec (``dysp=yes``), starts
``scientist serve`` on a free loopback port, and sends ``POST /v1/decide`` requests open-loop
at each rate for ``--duration`` seconds: request i is due at ``i / rate`` whatever happened to
the earlier ones, so a slow server faces a growing queue (no coordinated omission), and
latency is measured from the time a request was due to the time its response arrived. The
load comes from one asyncio process with a minimal HTTP/1.1 client on persistent connections
(:class:`LoadClient`; a request that finds no idle connection opens one).

The requests cycle through 32 distinct decisions: the 16 interventions ``do(X=x)`` on the 8
variables, each with no context and with ``xray=yes`` (``asia=yes`` for interventions on xray). The service memoises verdicts (the
guard is a pure function of the posterior and the request) but commits one audit record per
call; ``--cache-size 0`` turns the memo off, so every request runs the inference. With the
cache on, warm-up passes send every distinct request until no worker's cache misses one; with
it off, they send each request until every worker has compiled the elimination plans of its
query shapes (the first decision of a shape costs about 15 ms more than the next ones).

After each rate the script waits for every request to finish and compares the audit rows added
to the store with the 200 responses received (they must be equal), and reads from every
worker's ``/metrics`` how many requests missed the verdict cache (each miss runs the inference
over all theories, a few milliseconds of one core for 1,000 theories) and how
long the audit commits took (mean, and how many took over 25 ms), and how long the cache
misses took to compute, the hop to an inference process included. "handled > 25 ms" counts the
requests that spent over 25 ms inside the app (from the time the app got the request to its
response; the client's latency also holds the time in the client, the kernel and uvicorn's
event loop before the app). "Waiting for a CPU" is the time the server's processes (all
threads of ``scientist serve``, its workers and their inference processes, summed) and the
client's process spent runnable but not running, per second of the step (Linux schedstat): how
much the other processes on the machine held them up; "server CPU ms per request" is the CPU
time those processes used in the step over the requests sent; "client GC max ms" is the
longest garbage collection of the client's own process in the step (it freezes what it holds
before the first step, so this stays near zero; a long one would delay the requests due
meanwhile and make them look slow). The ``load`` column is the
machine's 1-minute load average before and after the step (the client and the server share the
machine with whatever else runs on it); ``--json`` also keeps, per step, the due time and
latency of every request over 25 ms, and the wall-clock time each step started (to match them
with a server's logs).

Usage::

    python benchmarks/service_load.py [--db URL] [--rates 25,50,100,200] [--duration 30]
                                      [--workers 2] [--cache-size 4096] [--theories 1000]
                                      [--novel FRACTION] [--inference-processes N]
                                      [--json OUT]

``--db`` defaults to a SQLite file in a temporary folder; for PostgreSQL start a server with
``make postgres`` and pass ``--db postgresql+psycopg://scientist:scientist@127.0.0.1/scientist``.
Prints a Markdown table; the client runs in this process, on the same machine as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from scientist import Posterior, WorldModel, datasets
from scientist.guard import AuditStore
from scientist.service.auth import KeyStore
from scientist.service.testing import ServerError, running_server

SPEC = "principles:\n  - name: no-dyspnoea\n    interpretations: [dysp=yes]\n"


def build_posterior(n_theories: int, path: Path) -> Posterior:
    """The heaviest ``n_theories`` distinct DAGs of an order-MCMC run on Asia data."""
    data = datasets.load_network("asia").sample(2000, rng=0)
    wm = WorldModel(sampler="order_mcmc", n_samples=5000, n_chains=2, thin=5, seed=0).fit(data)
    p = wm.posterior_
    if p.n_theories < n_theories:
        raise SystemExit(f"the sampler found {p.n_theories} DAGs, fewer than {n_theories}")
    k = n_theories
    top = Posterior(
        p.variables,
        p.masks[:k],
        p.log_weights[:k],
        weighting=p.weighting,
        scorer=p.scorer,
        counts=None if p.counts is None else p.counts[:k],
        log_scores=None if p.log_scores is None else p.log_scores[:k],
        info={**p.info, "kept": k},
    )
    top.save(path)
    return top


def requests(post: Posterior) -> list[dict[str, Any]]:
    """The 32 distinct decisions the clients cycle through."""
    out = []
    for v in post.variables:
        for s in v.states or ():
            for ctx in (None, "asia=yes" if v.name == "xray" else "xray=yes"):
                out.append({"posterior": "bench", "action": {v.name: s}, "context": ctx})
    return out


PROBE = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
out = open(sys.argv[2], "w", buffering=1)
block = b"x" * 4096
while True:
    t = time.monotonic()
    os.pwrite(fd, block, 0)
    os.fdatasync(fd)
    out.write(f"{t:.4f} {1000 * (time.monotonic() - t):.2f}\\n")
    time.sleep(0.02)
"""


def start_fsync_probe(folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A process that writes 4 KiB and ``fdatasync``s it every 20 ms, logging each sync's time.

    It shows how long the disk takes to make a small write durable, which is what every audit
    commit waits for (SQLite's ``synchronous=FULL``, PostgreSQL's WAL flush), independently of
    the service.
    """
    log = folder / "fsync.log"
    proc = subprocess.Popen([sys.executable, "-c", PROBE, str(folder / "fsync.dat"), str(log)])
    return proc, log


def fsync_stats(log: Path, t0: float, t1: float) -> dict[str, float]:
    """The probe's syncs started between monotonic times ``t0`` and ``t1``."""
    ms = [
        float(b)
        for a, b in (line.split() for line in log.read_text().splitlines() if line.count(" ") == 1)
        if t0 <= float(a) <= t1
    ]
    if not ms:
        return {"fsyncs": 0, "fsync_p99_ms": float("nan"), "fsync_max_ms": float("nan")}
    return {
        "fsyncs": len(ms),
        "fsync_p99_ms": float(np.percentile(ms, 99)),
        "fsync_max_ms": max(ms),
    }


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (Linux ``/proc``; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out if Path(f"/proc/{root}").exists() else []


def run_queue_wait(pids: list[int]) -> float:
    """Seconds the threads of ``pids`` have spent runnable but waiting for a CPU, in total.

    The second field of Linux's ``/proc/PID/task/TID/schedstat``; 0 where it cannot be read.
    """
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of ``pids`` so far, in seconds (Linux ``/proc/PID/stat``)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def serve_args(
    post_path: Path, spec_path: Path, db: str, workers: int, cache: int, processes: int
) -> list[str]:
    """The ``scientist serve`` arguments of the benchmark's server."""
    return [
        "--posterior",
        f"bench={post_path}",
        "--spec",
        f"bench={spec_path}",
        "--db",
        db,
        "--workers",
        str(workers),
        "--threshold",
        "0.3",
        "--cache-size",
        str(cache),
        "--inference-processes",
        str(processes),
        "--log-level",
        "info",
        "--no-access-log",
    ]


async def warm_up(
    url: str,
    headers: dict[str, str],
    bodies: list[dict[str, Any]],
    workers: int,
    cached: bool = True,
) -> float:
    """Send every distinct request until two whole passes in a row miss no worker's cache.

    Each request opens a new connection, so it lands on whichever worker accepts it; two passes
    of all 32 requests without a cache miss on any worker (read from every worker's
    ``/metrics``) mean every worker has very likely seen every request. A miss is no longer
    told apart by its latency: the inference now answers in a few milliseconds. If the
    workers' metrics cannot all be read, a pass counts as clean when every request took under
    50 ms, as before.

    With the cache off (``cached=False``) every request misses, so the passes warm what the
    inference keeps between requests instead (each worker's elimination plan of each query
    shape, compiled on its first use): at least six passes, until two in a row take under
    25 ms per request. Each pass sends a new threshold (never the one the load sends).
    """
    t0 = time.perf_counter()
    clean_passes = 0
    before = await worker_stats(url, workers)
    for n_pass in range(40):
        lat: list[float] = []
        async with httpx.AsyncClient(
            base_url=url,
            headers={**headers, "Connection": "close"},
            timeout=120,
        ) as client:
            for body in bodies:
                t = time.perf_counter()
                if not cached:
                    body = {**body, "threshold": round(0.9 - 1e-3 * n_pass, 6)}
                r = await client.post("/v1/decide", json=body)
                r.raise_for_status()
                lat.append(time.perf_counter() - t)
        after = await worker_stats(url, workers)
        if not cached:
            clean = n_pass >= 5 and max(lat) < 0.025
        elif before is not None and after is not None:
            clean = after["misses"] == before["misses"]
        else:
            clean = max(lat) < 0.05
        before = after
        clean_passes = clean_passes + 1 if clean else 0
        if clean_passes == 2:
            break
    return time.perf_counter() - t0


async def worker_stats(url: str, workers: int) -> dict[str, float] | None:
    """Cache misses and audit commits summed over the workers (scraped on fresh connections)."""
    seen: dict[str, dict[str, float]] = {}
    keys = {
        'scientist_cache_lookups_total{endpoint="decide",result="miss"}': "misses",
        "scientist_audit_commit_seconds_sum": "commit_sum",
        "scientist_audit_commit_seconds_count": "commits",
        'scientist_audit_commit_seconds_bucket{le="0.025"}': "commits_fast",
        'scientist_inference_seconds_sum{endpoint="decide"}': "inference_sum",
        'scientist_inference_seconds_count{endpoint="decide"}': "inferences",
        'scientist_inference_seconds_bucket{endpoint="decide",le="0.025"}': "inferences_fast",
        'scientist_request_duration_seconds_bucket{path="/v1/decide",le="0.025"}': "handled_fast",
        'scientist_request_duration_seconds_count{path="/v1/decide"}': "handled",
    }
    async with httpx.AsyncClient(base_url=url, headers={"Connection": "close"}, timeout=30) as c:
        for _ in range(60 * workers):
            stats: dict[str, float] = dict.fromkeys(keys.values(), 0.0)
            pid = None
            for line in (await c.get("/metrics")).text.splitlines():
                name, _, value = line.rpartition(" ")
                if name.startswith("scientist_worker_info{"):
                    pid = name.split('"')[1]
                elif name in keys:
                    stats[keys[name]] = float(value)
            if pid is not None:
                seen[pid] = stats
            if len(seen) == workers:
                return {k: sum(s[k] for s in seen.values()) for k in keys.values()}
    return None  # could not reach every worker


class LoadClient:
    """A lean HTTP/1.1 client for the load: persistent connections, one request at a time each.

    httpx costs a few milliseconds of CPU per request, which on a 2-core machine shared with
    the server would be measured as server latency; this client writes the request bytes and
    reads the status line, the headers and a ``Content-Length`` body, nothing more (enough for
    the service's JSON answers). A request takes an idle connection or opens a new one.
    """

    def __init__(self, url: str, token: str) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port
        self.head = (
            f"POST /v1/decide HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, body: bytes) -> int:
        """Send one decision request; returns the status code.

        A kept-alive connection that the server closed while it was idle (uvicorn does after 5 s)
        answers nothing; the request, which the server never read, is sent again on a new one.
        """
        reused = bool(self.idle)
        if reused:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            status_line = await reader.readline()
        except ConnectionError:
            status_line = b""
        if not status_line:
            writer.close()
            if reused:
                return await self.post(body)
            raise ConnectionError("the server closed a new connection without answering")
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        await reader.readexactly(length)
        if close:
            writer.close()
        else:
            self.idle.append((reader, writer))
        return int(status_line.split()[1])

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def run_rate(
    client: LoadClient,
    bodies: list[dict[str, Any]],
    rate: float,
    duration: float,
    novel: float = 0.0,
) -> dict[str, Any]:
    """Open-loop load at ``rate`` requests/s; latency from each request's due time.

    A fraction ``novel`` of the requests carry a threshold never sent before, so they miss the
    verdict cache and run the inference.
    """
    n = int(rate * duration)
    fresh = set(np.flatnonzero(np.random.default_rng(int(rate)).random(n) < novel).tolist())
    encoded = [json.dumps(b).encode() for b in bodies]
    novel_latencies: list[float] = []
    latencies: list[float] = []
    errors: dict[str, int] = {}
    slow: list[tuple[float, float]] = []  # (due time in s from the start, latency ms) over 25 ms
    ok = 0
    start = time.perf_counter() + 0.1

    async def one(i: int) -> None:
        nonlocal ok
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = encoded[i % len(bodies)]
        if i in fresh:
            threshold = round(0.3 + 1e-7 * (i + 1) + 1e-3 * rate, 9)
            body = json.dumps({**bodies[i % len(bodies)], "threshold": threshold}).encode()
        try:
            status = await client.post(body)
            if status == 200:
                ok += 1
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        took = time.perf_counter() - due
        (novel_latencies if i in fresh else latencies).append(took)
        if took > 0.025:
            slow.append((round(due - start, 3), round(took * 1000, 1)))

    # each request's task starts when it is due: creating thousands up front held the client's
    # event loop for a tenth of a second or more at the start of every step
    tasks = []
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    lat = np.sort(np.asarray(latencies + novel_latencies)) * 1000
    return {
        "novel": len(fresh),
        "novel_p50_ms": float(np.median(novel_latencies)) * 1000 if novel_latencies else None,
        "cached_p99_ms": float(np.percentile(latencies, 99)) * 1000,
        "rate": rate,
        "sent": n,
        "ok": ok,
        "errors": errors,
        "throughput": ok / wall,
        "wall_s": wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat[-1]),
        "slow": sorted(slow),
    }


class GCPauses:
    """The longest garbage collection of this (the client's) process since :meth:`reset`.

    The load generator is a Python process too: a full collection holds its event loop, so the
    requests due meanwhile leave late, arrive at the server together, and count as slow. The
    client freezes what it holds before the first step (``gc.freeze``) and reports its longest
    pause per step, so that a slow step can be told apart from a slow client.
    """

    def __init__(self) -> None:
        self.longest = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._start)

    def reset(self) -> None:
        self.longest = 0.0

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


async def main_async(
    args: argparse.Namespace,
    url: str,
    token: str,
    store: AuditStore,
    bodies: list[dict[str, Any]],
    probe_log: Path | None = None,
    server_pid: int | None = None,
):
    headers = {"Authorization": f"Bearer {token}"}
    rows = []
    client = LoadClient(url, token)
    pauses = GCPauses()
    try:
        took = await warm_up(url, headers, bodies, args.workers, args.cache_size > 0)
        print(f"warm-up: {took:.1f} s", file=sys.stderr)
        gc.collect()
        gc.freeze()  # the posterior, the libraries and the bodies: nothing for the steps to scan
        for rate in args.rates:
            before, stats0 = store.count(), await worker_stats(url, args.workers)
            pids = descendants(server_pid) if server_pid is not None else []
            waited = (run_queue_wait(pids), run_queue_wait([os.getpid()]))
            cpu0 = cpu_seconds(pids)
            load, t0 = os.getloadavg()[0], time.monotonic()
            started = time.time()  # the slow requests' due times count from about here
            pauses.reset()
            row = await run_rate(client, bodies, rate, args.duration, args.novel)
            row["client_gc_max_ms"] = 1000 * pauses.longest
            if probe_log is not None:
                row.update(fsync_stats(probe_log, t0, time.monotonic()))
            row["load_before"], row["load_after"] = load, os.getloadavg()[0]
            span = time.monotonic() - t0
            row["server_wait_ms_per_s"] = 1000 * (run_queue_wait(pids) - waited[0]) / span
            row["client_wait_ms_per_s"] = 1000 * (run_queue_wait([os.getpid()]) - waited[1]) / span
            row["server_cpu_ms_per_request"] = (
                1000 * (cpu_seconds(pids) - cpu0) / max(row["sent"], 1)
            )
            row["started_utc"] = datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat()
            row["audit_rows"] = store.count() - before
            stats1 = await worker_stats(url, args.workers)
            if stats0 is None or stats1 is None:
                row.update(
                    cache_misses=None,
                    commit_mean_ms=None,
                    commits_slow=None,
                    inference_mean_ms=None,
                    inferences_slow=None,
                    handled_slow=None,
                )
            else:
                d = {k: stats1[k] - stats0[k] for k in stats0}
                row["cache_misses"] = int(d["misses"])
                row["commit_mean_ms"] = 1000 * d["commit_sum"] / max(d["commits"], 1)
                row["commits_slow"] = int(d["commits"] - d["commits_fast"])
                row["inference_mean_ms"] = 1000 * d["inference_sum"] / max(d["inferences"], 1)
                row["inferences_slow"] = int(d["inferences"] - d["inferences_fast"])
                row["handled_slow"] = int(d["handled"] - d["handled_fast"])
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "slow"}), file=sys.stderr)
    finally:
        pauses.close()
        gc.unfreeze()
        await client.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    novel = any(r["novel"] for r in rows)
    probe = "fsyncs" in rows[0]
    extra = " novel requests | their p50 ms | p99 ms of the others |" if novel else ""
    extra += " probe fsync p99 ms | max ms |" if probe else ""
    lines = [
        "| target req/s | sent | 200s | throughput req/s | p50 ms | p99 ms | max ms | errors "
        "| audit rows | lost | cache misses | audit commit mean ms | commits > 25 ms "
        "| inference mean ms | inferences > 25 ms | handled > 25 ms | load "
        "| server, client waiting for a CPU ms/s | server CPU ms per request "
        "| client GC max ms |" + extra,
        "| ---: " * (20 + 3 * novel + 2 * probe) + "|",
    ]
    for r in rows:
        errs = sum(r["errors"].values())
        detail = (
            "" if not errs else " (" + ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) + ")"
        )
        lines.append(
            f"| {r['rate']:g} | {r['sent']} | {r['ok']} | {r['throughput']:.1f} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.0f} | {errs}{detail} | "
            f"{r['audit_rows']} | {r['ok'] - r['audit_rows']} | "
            f"{'?' if r['cache_misses'] is None else r['cache_misses']} | "
            f"{'?' if r['commit_mean_ms'] is None else format(r['commit_mean_ms'], '.2f')} | "
            f"{'?' if r['commits_slow'] is None else r['commits_slow']} | "
            f"{'?' if r['inference_mean_ms'] is None else format(r['inference_mean_ms'], '.2f')} | "
            f"{'?' if r['inferences_slow'] is None else r['inferences_slow']} | "
            f"{'?' if r['handled_slow'] is None else r['handled_slow']} | "
            f"{r['load_before']:.1f}-{r['load_after']:.1f} | "
            f"{r['server_wait_ms_per_s']:.0f}, {r['client_wait_ms_per_s']:.0f} | "
            f"{r['server_cpu_ms_per_request']:.1f} | {r['client_gc_max_ms']:.0f} |"
            + (
                f" {r['novel']} | {r['novel_p50_ms'] or 0:.0f} | {r['cached_p99_ms']:.1f} |"
                if novel
                else ""
            )
            + (f" {r['fsync_p99_ms']:.1f} | {r['fsync_max_ms']:.0f} |" if probe else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Load on the guard service.")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a SQLite file).")
    parser.add_argument("--rates", default="25,50,100,200")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache-size", type=int, default=4096)
    parser.add_argument("--theories", type=int, default=1000)
    parser.add_argument(
        "--novel", type=float, default=0.0, help="Fraction of requests that miss the cache."
    )
    parser.add_argument("--inference-processes", type=int, default=1)
    parser.add_argument(
        "--fsync-probe",
        action="store_true",
        help="Time a 4 KiB fdatasync every 20 ms beside the load (columns fsync p99/max).",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.rates = [float(x) for x in args.rates.split(",")]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        t = time.perf_counter()
        post = build_posterior(args.theories, tmp / "bench.npz")
        print(
            f"posterior: {post.n_theories} theories in {time.perf_counter() - t:.1f} s",
            file=sys.stderr,
        )
        (tmp / "harms.yaml").write_text(SPEC)
        db = args.db or f"sqlite:///{tmp / 'audit.db'}"
        store = AuditStore(db)
        keys = KeyStore(store.engine)
        _, token = keys.create(["decide"], name="service_load")
        serve = serve_args(
            tmp / "bench.npz",
            tmp / "harms.yaml",
            db,
            args.workers,
            args.cache_size,
            args.inference_processes,
        )
        probe = None
        try:
            with running_server(
                serve, log=tmp / "serve.log", start_timeout=120, stop_timeout=30
            ) as server:
                probe, probe_log = start_fsync_probe(tmp) if args.fsync_probe else (None, None)
                rows = asyncio.run(
                    main_async(
                        args,
                        server.url,
                        token,
                        store,
                        requests(post),
                        probe_log,
                        server.process.pid,
                    )
                )
        except ServerError as exc:
            raise SystemExit(str(exc)) from None
        finally:
            if probe is not None:
                probe.kill()
                probe.wait()
            store.close()
        restarts = (tmp / "serve.log").read_text().count(" died")
        if restarts:
            print(f"the server replaced {restarts} dead worker(s) during the run", file=sys.stderr)
        backend = "SQLite (WAL, synchronous=FULL)" if db.startswith("sqlite") else db.split(":")[0]
        print(
            f"\n{post.n_theories} theories, {args.workers} worker(s), cache "
            f"{'off' if args.cache_size == 0 else args.cache_size}, "
            f"{args.inference_processes} inference process(es) per worker, "
            f"{args.novel:.0%} novel requests, audit store {backend}, "
            f"{args.duration:g} s per rate, {platform.machine()} with {_cores()} cores; "
            f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after\n"
        )
        print(table(rows))
        if args.json:
            args.json.write_text(
                json.dumps({"rows": rows, "args": vars(args) | {"json": str(args.json)}}, indent=1)
            )


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    main()
