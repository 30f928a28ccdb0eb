"""Prometheus metrics of the guard service, in the text exposition format (version 0.0.4).

Counters and one latency histogram, kept in memory by each worker process: with
``--workers N`` a scrape is answered by one worker, with its own numbers, and
``scientist_worker_info{pid=...}`` says which (run one worker per port, or one scrape target
per worker, where every request must be counted). Labels have a bounded set of values: the
route template (``other`` for unknown paths), the method, the status code, and the decision.

References
----------
.. [1] Prometheus documentation, "Exposition formats" (text-based format).
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import defaultdict

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


class Metrics:
    """Thread-safe counters and a request-latency histogram."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self.decisions: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self.cache: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self.audit_failures = 0
        self._hist: dict[str, list[int]] = {}
        self._sum: dict[str, float] = defaultdict(float)
        self._commit = [0] * (len(BUCKETS) + 1)
        self._commit_sum = 0.0
        self._inference: dict[str, list[int]] = {}
        self._inference_sum: dict[str, float] = defaultdict(float)

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        """Count one request and record its latency."""
        with self._lock:
            self.requests[(("method", method), ("path", path), ("status", str(status)))] += 1
            counts = self._hist.setdefault(path, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sum[path] += seconds

    def observe_decision(self, posterior: str, decision: str) -> None:
        """Count one committed decision."""
        with self._lock:
            self.decisions[(("posterior", posterior), ("decision", decision))] += 1

    def observe_cache(self, endpoint: str, hit: bool) -> None:
        """Count a lookup of the answer cache."""
        with self._lock:
            self.cache[(("endpoint", endpoint), ("result", "hit" if hit else "miss"))] += 1

    def observe_commit(self, seconds: float) -> None:
        """Record the time one audit record took to commit."""
        with self._lock:
            self._commit[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._commit_sum += seconds

    def observe_inference(self, endpoint: str, seconds: float) -> None:
        """Record the time a cache miss took to compute (in this thread or a worker process)."""
        with self._lock:
            counts = self._inference.setdefault(endpoint, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._inference_sum[endpoint] += seconds

    def observe_audit_failure(self) -> None:
        """Count a decision refused because the audit store failed."""
        with self._lock:
            self.audit_failures += 1

    def render(self) -> str:
        """All metrics in the Prometheus text format."""
        out: list[str] = []
        with self._lock:
            out += [
                "# HELP scientist_requests_total HTTP requests by route, method and status.",
                "# TYPE scientist_requests_total counter",
            ]
            out += [
                f"scientist_requests_total{_labels(k)} {v}"
                for k, v in sorted(self.requests.items())
            ]
            out += [
                "# HELP scientist_request_duration_seconds Time to answer a request, by route.",
                "# TYPE scientist_request_duration_seconds histogram",
            ]
            for path, counts in sorted(self._hist.items()):
                out += _histogram(
                    "scientist_request_duration_seconds", (("path", path),), counts, self._sum[path]
                )
            out += [
                "# HELP scientist_audit_commit_seconds Time to commit one audit record.",
                "# TYPE scientist_audit_commit_seconds histogram",
                *_histogram("scientist_audit_commit_seconds", (), self._commit, self._commit_sum),
            ]
            out += [
                "# HELP scientist_inference_seconds Time to compute an answer the cache did not "
                "hold, by endpoint (waiting for a worker process included).",
                "# TYPE scientist_inference_seconds histogram",
            ]
            for endpoint, counts in sorted(self._inference.items()):
                out += _histogram(
                    "scientist_inference_seconds",
                    (("endpoint", endpoint),),
                    counts,
                    self._inference_sum[endpoint],
                )
            out += [
                "# HELP scientist_decisions_total Committed guard decisions by posterior and kind.",
                "# TYPE scientist_decisions_total counter",
            ]
            out += [
                f"scientist_decisions_total{_labels(k)} {v}"
                for k, v in sorted(self.decisions.items())
            ]
            out += [
                "# HELP scientist_cache_lookups_total Answer-cache lookups by endpoint and result.",
                "# TYPE scientist_cache_lookups_total counter",
            ]
            out += [
                f"scientist_cache_lookups_total{_labels(k)} {v}"
                for k, v in sorted(self.cache.items())
            ]
            out += [
                "# HELP scientist_worker_info The worker process that answered this scrape.",
                "# TYPE scientist_worker_info gauge",
                f"scientist_worker_info{_labels((('pid', str(os.getpid())),))} 1",
                "# HELP scientist_audit_failures_total Decisions refused (503) because the audit store failed.",
                "# TYPE scientist_audit_failures_total counter",
                f"scientist_audit_failures_total {self.audit_failures}",
            ]
        return "\n".join(out) + "\n"


def _histogram(
    name: str, labels: tuple[tuple[str, str], ...], counts: list[int], total: float
) -> list[str]:
    out, running = [], 0
    for le, c in zip((*BUCKETS, float("inf")), counts, strict=True):
        running += c
        bound = "+Inf" if le == float("inf") else repr(le)
        out.append(f"{name}_bucket{_labels((*labels, ('le', bound)))} {running}")
    out.append(f"{name}_sum{_labels(labels)} {total!r}")
    out.append(f"{name}_count{_labels(labels)} {running}")
    return out
