"""gunicorn settings for the benchmark's yardstick apps (bare, floor, straight): the IVR's own
server settings from gunicorn.conf.py, without its hooks. Those hooks run the IVR's preflight
in the master, which imports the IVR and so turns on phonenumbers' pattern cache before the
workers fork: every yardstick would inherit the IVR's own speed-up. The collector is frozen
after start-up as the IVR's workers do, so the comparison differs only in the app."""

import gc
import runpy
from pathlib import Path

_IVR = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
SETTINGS = ("bind", "worker_class", "workers", "threads", "timeout", "graceful_timeout", "keepalive")
SETTINGS += ("max_requests", "max_requests_jitter", "accesslog", "errorlog")
globals().update({name: _IVR[name] for name in SETTINGS})


def post_worker_init(worker):
    gc.freeze()
