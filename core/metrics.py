"""Prometheus metrics of a SupportLoop process, served at ``/metrics`` by ``supportloop serve``.

One registry per process (each bot replica and worker is scraped on its own); names follow Prometheus
conventions (``_total`` counters, ``_seconds`` histograms). Values that can be read when scraped (the
served model version, whether this process runs the scheduler) are gauges set by ``supportloop serve``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

ANSWERS = Counter(
    "supportloop_answers",
    "Questions answered, by platform and outcome (answered, quoted, declined, failed).",
    ["platform", "outcome"],
    registry=REGISTRY,
)
ANSWER_SECONDS = Histogram(
    "supportloop_answer_seconds",
    "Time from question to answer (retrieval, generation and the grounding check).",
    ["platform"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
VOTES = Counter(
    "supportloop_votes",
    "Votes on answers, by platform and vote (up, down, retracted).",
    ["platform", "vote"],
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "supportloop_escalations",
    'Requests for a person ("Ask a person"), by platform: the first press in each thread.',
    ["platform"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "supportloop_job_runs",
    "Jobs run by this process, by kind and result.",
    ["kind", "status"],
    registry=REGISTRY,
)
MODEL_VERSION = Gauge(
    "supportloop_model_version", "The model version this process serves.", registry=REGISTRY
)
SCHEDULER_LEADER = Gauge(
    "supportloop_scheduler_leader",
    "1 while this process holds the scheduler lease and runs jobs.",
    registry=REGISTRY,
)
