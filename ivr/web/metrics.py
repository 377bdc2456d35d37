"""Prometheus metrics. No phone number, account or digits ever becomes a label.

Under gunicorn (several worker processes) set PROMETHEUS_MULTIPROC_DIR to an empty folder:
each process writes its samples there and /metrics adds them up. Without it (tests, the dev
server) each app counts on a registry of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Callbacks waiting now, read from the store at each scrape: {region: (count, oldest's wait in s)}.
Waiting = Callable[[], Mapping[str, tuple[int, float]]]

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The IVR's metrics."""

    def __init__(self, multiprocess: bool = False) -> None:
        """`multiprocess`: PROMETHEUS_MULTIPROC_DIR is set (gunicorn's workers share a folder)."""
        self.registry = None if multiprocess else CollectorRegistry()
        self._children: dict[tuple[object, ...], Any] = {}
        registry = self.registry

        def counter(name: str, text: str, labels: list[str]) -> Counter:
            return Counter(name, text, labels, registry=registry)

        self.calls = counter(
            "ivr_calls", "Calls answered, by region and what routed them.", ["region", "matched_by"]
        )
        self.menu_choices = counter(
            "ivr_menu_choices", "Keys pressed in menus, by menu and option.", ["menu", "choice"]
        )
        self.outcomes = counter(
            "ivr_outcomes",
            "How calls went: lockdown, recovery_sms, transaction, dispute, "
            "agent, callback, voicemail, abandoned.",
            ["region", "outcome"],
        )
        self.speech = counter(
            "ivr_speech",
            "Speech in menus, by menu, language and result (never what was said).",
            ["menu", "language", "result"],
        )
        self.speech_rules = counter(
            "ivr_speech_rules",
            "Which rule decided what was said: key, phrase, sound, spelling, negated, tie, "
            "background, none (never the words).",
            ["menu", "language", "rule"],
        )
        self.errors = counter("ivr_errors", "Failures by kind (webhook, wallet, store, sms).", ["kind"])
        # Counted where each happens: placed by the dialer (`ivr callbacks run`, which writes
        # to the same PROMETHEUS_MULTIPROC_DIR), ended in the legs' webhooks.
        self.callback_attempts = counter(
            "ivr_callback_attempts",
            "Callback attempts by region and result: placed, then connected, queued, machine, "
            "agent-no-answer, caller-busy, ... (never a number).",
            ["region", "result"],
        )
        self.waiting: Waiting | None = None  # set by the web layer: the store's waiting callbacks
        if registry is not None:
            registry.register(CallbacksWaiting(self))
        self.webhook_seconds = Histogram(
            "ivr_webhook_seconds",
            "Time to answer a webhook.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.wallet_seconds = Histogram(
            "ivr_wallet_seconds",
            "Wallet back-end calls.",
            ["operation", "ok"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.store_seconds = Histogram(
            "ivr_store_seconds",
            "Store transactions (each committed unit of work).",
            ["what"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    # --- what the runtime reports (ivr.runtime.Observer) ---------------------------------------

    def wallet_call(self, operation: str, seconds: float, ok: bool) -> None:
        self.wallet_seconds.labels(operation=operation, ok=str(ok).lower()).observe(seconds)
        if not ok:
            self.errors.labels(kind="wallet").inc()

    def store_transaction(self, seconds: float) -> None:
        self.store_seconds.labels(what="transaction").observe(seconds)

    def sms_failure(self) -> None:
        self.errors.labels(kind="sms").inc()

    def child(self, metric: Counter | Histogram, **labels: str) -> Any:
        """`metric` for these label values, its child kept (looked up on every webhook)."""
        key = (id(metric), *labels.values())
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(**labels)
        return found

    def exposition(self) -> bytes:
        """The Prometheus text of every process (multiprocess) or this app's registry."""
        if self.registry is not None:
            return bytes(generate_latest(self.registry))
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(CallbacksWaiting(self))
        return bytes(generate_latest(registry))


class CallbacksWaiting(Collector):
    """Gauges read from the store at each scrape (so every worker and server agrees): callbacks
    waiting per region, and how long the oldest has waited."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        count = GaugeMetricFamily(
            "ivr_callbacks_waiting", "Callbacks waiting to be dialed.", labels=["region"]
        )
        oldest = GaugeMetricFamily(
            "ivr_callback_oldest_wait_seconds",
            "How long the oldest waiting callback has waited.",
            labels=["region"],
        )
        if self.metrics.waiting is not None:
            try:
                waiting = self.metrics.waiting()
            except Exception:  # the store away: the other metrics still answer
                waiting = {}
            for region, (n, seconds) in sorted(waiting.items()):
                count.add_metric([region], n)
                oldest.add_metric([region], max(0.0, seconds))
        yield count
        yield oldest


def archive_dead_worker(folder: str, pid: int) -> int:
    """Fold a dead worker's counter and histogram files into one archive file per kind, so
    /metrics reads a few files however many workers have been recycled (each recycled worker
    left its own files before, and every scrape read them all). Totals are unchanged.
    Returns how many files were folded."""
    import os

    from prometheus_client import multiprocess
    from prometheus_client.mmap_dict import MmapedDict

    multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]  # its live gauges
    folded = 0
    for kind in ("counter", "histogram"):
        dead = os.path.join(folder, f"{kind}_{pid}.db")
        if not os.path.exists(dead):
            continue
        archive = MmapedDict(os.path.join(folder, f"{kind}_archive.db"))  # type: ignore[no-untyped-call]
        try:
            for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(dead):  # type: ignore[no-untyped-call]
                kept, _ = archive.read_value(key)  # type: ignore[no-untyped-call]
                archive.write_value(key, kept + value, timestamp)  # type: ignore[no-untyped-call]
        finally:
            archive.close()  # type: ignore[no-untyped-call]
        os.remove(dead)
        folded += 1
    return folded
