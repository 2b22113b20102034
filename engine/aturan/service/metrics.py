"""Prometheus metrics of the decision service: decisions by ruleset version and outcome, request
latency, errors by kind, reloads by result.

With several uvicorn workers a scrape reaches one worker at random, so `aturan serve --workers N`
sets PROMETHEUS_MULTIPROC_DIR and every worker writes its counts to files there; each scrape
then sums all workers (prometheus-client's multiprocess mode). With one process, every app has
its own registry, so two apps in one test process never mix counts.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from ..runtime.decision import Decision
from ..runtime.memo import MemoStats
from .holder import ReloadResult

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)
MEMO_GAUGES = {
    "keys": "Memo keys held (each an engine answer decided once), over all compiled rulesets.",
    "capacity": "Most memo keys the compiled rulesets together may hold.",
    "hits": "Decisions answered from the memo since the set was loaded.",
    "misses": "Decisions that asked the engine (a key not in the memo) since the set was loaded.",
    "evictions": "Memo keys dropped (least recently used first) to make room since the set was "
                 "loaded.",
}
ENDPOINTS = ("/v1/decisions", "/v1/decisions:batch", "/v1/rulesets", "/healthz", "/metrics",
             "/openapi.json")


class Metrics:
    """The service's counters and histogram, and their text exposition."""

    def __init__(self) -> None:
        disable_created_metrics()  # `*_created` series: one more per label set, read by no one
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # in multiprocess mode values live in files and are collected per scrape; registering
        # them anywhere would only export this one worker's view
        self._registry = None if self.multiprocess else CollectorRegistry()
        registry = self._registry
        self.decisions = Counter("aturan_decisions", "Decisions answered, by ruleset version and "
                                 "outcome.", ["ruleset", "version", "outcome"], registry=registry)
        self.latency = Histogram("aturan_request_duration_seconds", "Time from request start to "
                                 "the last response byte, by endpoint.", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=registry)
        self.errors = Counter("aturan_errors", "Requests (or batch items) answered with an "
                              "error, by kind.", ["kind"], registry=registry)
        self.reloads = Counter("aturan_reloads", "Ruleset reload attempts, by trigger and "
                               "result.", ["trigger", "result"], registry=registry)
        self.log_dropped = Counter("aturan_decision_log_dropped", "Decisions whose decision "
                                   "log record was dropped (queue full with "
                                   "--decision-log-when-full drop, or a failed write).",
                                   registry=registry)
        # the memos of the set being served (a reload starts them afresh), summed over workers
        self.memo = {name: Gauge(f"aturan_memo_{name}", text, registry=registry,
                                 multiprocess_mode="livesum")
                     for name, text in MEMO_GAUGES.items()}

    def decided(self, decision: Decision) -> None:
        self.decisions.labels(decision.ruleset.name, decision.ruleset.version,
                              decision.outcome).inc()

    def memo_seen(self, stats: MemoStats) -> None:
        """Publish the memo counts of the set being served."""
        for name, gauge in self.memo.items():
            gauge.set(getattr(stats, name))

    def failed(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def reloaded(self, result: ReloadResult) -> None:
        self.reloads.labels(result.trigger, "ok" if result.ok else "failed").inc()

    def dropped(self, count: int) -> None:
        self.log_dropped.inc(count)

    def observe(self, path: str, seconds: float) -> None:
        # unknown paths share one label, so a scanner cannot grow the label set without bound
        self.latency.labels(path if path in ENDPOINTS else "other").observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text format."""
        if self._registry is not None:
            return generate_latest(self._registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
