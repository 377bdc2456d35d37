"""gunicorn settings for the IVR (`gunicorn wsgi:app` reads this file from the working folder).

Figures behind them are in the README ("Running in production") and bench/.
"""

import os
import signal
import threading

from ivr.settings import Settings

environment = Settings.from_env()
bind = environment.bind
# Webhooks mostly wait on the store and the wallet: threads overlap that waiting, and one
# process per core uses both cores. bench/throughput.py compares the alternatives.
workers = environment.workers
worker_class = "gthread"
threads = environment.threads
# Twilio abandons a webhook after 15 s; the app answers within 3 s even with the wallet down,
# so a worker silent for 10 s is stuck and is replaced.
timeout = 10
graceful_timeout = 10  # on reload or stop, calls in progress get their answer
keepalive = 5  # Twilio reuses connections between the webhooks of a call
# Recycle workers now and then so slow leaks can never add up (jitter: not all at once).
# Memory stays flat (bench/memory.py), so rarely: a new worker costs ~0.2 s of CPU to start
# plus its warm-up, and every 20,000 requests that cost 3-6 % of /voice's throughput
# (bench/throughput.py, README "Running in production").
max_requests = 200000
max_requests_jitter = 20000
accesslog = None  # the app logs each webhook as JSON, with masked numbers
errorlog = "-"


def on_starting(server):
    """Refuse to start on a bad config or a missing secret, with every error, before any
    worker is forked; then metrics from every worker (prometheus-client's multiprocess mode,
    in a fresh folder)."""
    import shutil
    import sys
    import tempfile

    from ivr import preflight

    problems = preflight(Settings.from_env())
    if problems:
        print("ivr: not starting:\n" + "\n".join(problems), file=sys.stderr, flush=True)
        sys.exit(1)
    folder = environment.prometheus_multiproc_dir or tempfile.mkdtemp(prefix="ivr-metrics-")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def when_ready(server):
    """From now on this is a running server: a worker that starts later (a HUP, a recycled or
    crashed worker) and meets a broken config edit keeps serving the last good config."""
    os.environ["IVR_RELOADING"] = "1"


def child_exit(server, worker):
    """A worker ended (recycled, crashed, stopped): fold its metric files into the archive, so
    /metrics does not slow down with every recycled worker."""
    from ivr.web.metrics import archive_dead_worker

    archive_dead_worker(os.environ["PROMETHEUS_MULTIPROC_DIR"], worker.pid)


def on_reload(server):
    """HUP: new workers that meet a broken config edit keep serving the last good one."""
    os.environ["IVR_RELOADING"] = "1"


def post_worker_init(worker):
    """HUP sent to a worker itself: re-read the config at its next webhook."""
    import gc

    # The loaded app (phonenumbers metadata, holiday calendars, config: ~115,000 objects) lives
    # as long as the worker: keep it out of the collector, whose full passes over it stalled
    # every request in the worker for 60-250 ms now and then (bench/journeys.py's p99).
    gc.freeze()
    hotline = worker.wsgi.extensions.get("ivr") if hasattr(worker.wsgi, "extensions") else None
    if hotline is not None:
        signal.signal(signal.SIGHUP, lambda *_: hotline.request_reload())
        # Connect, check the schema and seed the demo wallet now, not on the first callers' time
        # (a down store is fine: the calls connect when it returns).
        threading.Thread(target=hotline.warm_store, args=(threads,), daemon=True).start()
        hotline.keep_tidy()  # purge what is past keeping, a batch every ~10 minutes
        hotline.sms.start(hotline.now)  # texts go to Twilio from here, never from a webhook
