"""What ops ask of the calls: how they ended, by region, and what is still waiting."""

from __future__ import annotations

import itertools
import statistics
from datetime import datetime, timedelta
from typing import Any

from ivr.flows.graph import ABANDONED
from ivr.store import reports as queries

RECENT = 20  # cases and texts the ops page shows
OPEN_SHOWN = 200  # open cases of each kind the ops page lists: those that waited longest


def build_report(runtime: Any, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """Calls between `start` and `end` (default: the last 7 days), as the report's JSON."""
    runtime.journal.flush()
    end = end or runtime.now()
    start = start or end - timedelta(days=7)
    with runtime.store.begin() as connection:
        rows = queries.calls_between(connection, start, end)
        to_lockdown = queries.seconds_to_lockdown(connection, start, end)
        waiting = queries.waiting_callbacks(connection)
        finished = queries.callbacks_finished(connection, start, end)
    declared = runtime.graph.outcomes  # each outcome the flows declare, with its rank
    outcomes = runtime.graph.ranked_outcomes()
    by_region: dict[str, dict[str, int]] = {}
    for row in rows:  # one row per (region, outcome, ended): counted by the database
        counts = by_region.setdefault(row["region"], {"calls": 0, **{o: 0 for o in outcomes}})
        counts["calls"] += row["calls"]
        outcome = row["outcome"] if row["outcome"] in declared else (ABANDONED if row["ended"] else None)
        if outcome:
            counts[outcome] += row["calls"]
    total = sum(row["calls"] for row in rows)
    contained = sum(
        row["calls"] for row in rows if row["outcome"] in declared and declared[row["outcome"]].self_service
    )
    ages = [(end - (r["requested_at"] or r["created_at"])).total_seconds() / 60 for r in waiting]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "calls": total,
        "outcomes": list(outcomes),
        "by_region": dict(sorted(by_region.items())),
        "containment_rate": contained / total if total else 0.0,
        "median_seconds_to_lockdown": statistics.median(to_lockdown) if to_lockdown else None,
        "callbacks_waiting": {
            "count": len(waiting),
            "theft": sum(1 for r in waiting if r["priority"]),
            "oldest_minutes": max(ages) if ages else None,
        },
        "callbacks": callback_counts(finished),
    }


def callback_counts(finished: list[dict[str, Any]]) -> dict[str, Any]:
    """Callbacks the dialer kept (reached the caller) and gave up, and the median minutes from
    the request to the call that reached them."""
    kept = [r for r in finished if r["status"] == "closed" and r["closed_by"] == "dialer"]
    waits = [(r["closed_at"] - (r["requested_at"] or r["created_at"])).total_seconds() / 60 for r in kept]
    return {
        "done": len(kept),
        "failed": sum(1 for r in finished if r["status"] == "failed"),
        "median_minutes_to_call": statistics.median(waits) if waits else None,
    }


def ops_snapshot(runtime: Any, now: datetime, days: int = 7) -> dict[str, Any]:
    """Everything the ops page shows, with numbers masked."""
    from ivr.routing.hours import holidays_on
    from ivr.routing.regions import mask
    from ivr.store.cases import KINDS, list_cases, masked, open_callbacks

    config = runtime.config
    regions = []
    for region in config.regions.values():
        local = now.astimezone(region.zone)
        status = runtime.status(region, now)
        schedule = config.schedule_for(region)
        emergency = runtime.closures.for_region(region, now)
        change = status.closes_at if status.open else status.next_open
        chart = _week_chart(schedule, local.date(), days)
        regions.append(
            {
                "code": region.code,
                "name": region.name,
                "timezone": region.timezone,
                "open": status.open,
                "reason": status.reason,
                "detail": status.detail,
                "local_time": local.strftime("%a %H:%M"),
                "next_change": change.astimezone(region.zone).strftime("%a %d %b %H:%M") if change else None,
                "holiday": holidays_on({region.code: schedule}, local.date()).get(region.code),
                "emergency": emergency,
                "chart": chart,
                "queue": region.queue,
            }
        )
    with runtime.store.begin() as connection:  # only what the page shows: indexed, bounded
        recent = list_cases(connection, limit=RECENT)
        callbacks = open_callbacks(connection)
        to_work = {kind: list_cases(connection, kind, status="open", oldest=OPEN_SHOWN) for kind in KINDS}
        to_work["callback"] += list_cases(connection, "callback", status="failed", oldest=OPEN_SHOWN)
    outbox = [{**s, "to": mask(s["to"])} for s in runtime.sms.outbox(limit=RECENT)][::-1]
    return {
        "now": now,
        "regions": regions,
        "callbacks": [masked(c) for c in callbacks],
        "cases": [masked(c) for c in recent][::-1],
        "outbox": outbox,
        # Open cases by kind, oldest first (failed callbacks too: ops call those themselves).
        "open_cases": {kind: [masked(c) for c in rows] for kind, rows in to_work.items()},
    }


def _week_chart(schedule: Any, first: Any, days: int) -> list[dict[str, Any]]:
    """Each day's open spans in hours (0-24), with shifts from the day before continuing."""
    from ivr.routing.hours import week_table

    table = week_table(schedule, first - timedelta(days=1), days + 1)
    chart = []
    for before, day in itertools.pairwise(table):
        if schedule.always_open:
            spans = [(0.0, 24.0)]
        else:
            carried = [(0.0, (i.end - 1440) / 60) for i in before.intervals if i.end > 1440]
            spans = carried + [(i.start / 60, min(i.end, 1440) / 60) for i in day.intervals]
        chart.append(
            {
                "date": day.date,
                "kind": "always_open" if schedule.always_open else day.kind,
                "note": day.detail,
                "spans": spans,
            }
        )
    return chart
