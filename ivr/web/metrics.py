"""Prometheus metrics. No phone number, account or digits ever becomes a label.

Under gunicorn (several worker processes) set PROMETHEUS_MULTIPROC_DIR to an empty folder:
each process writes its samples there and /metrics adds them up. Without it (tests, the dev
server) each app counts on a registry of its own.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

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
        self.errors = counter("ivr_errors", "Failures by kind (webhook, wallet, store, sms).", ["kind"])
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
        return bytes(generate_latest(registry))
