"""OK Wallet hotline: a Twilio IVR with regional routing, business hours and self-service.

The layers, one folder each: `routing/` (where a call goes, whether it is open), `flows/`
(what the caller hears next), `store/` (all SQL), `wallet/` (the back ends), `web/` (Flask:
webhooks, ops page, metrics), `tools/` (the `ivr` command, the simulator, scenarios,
reports). Importing this package loads none of them; `create_app` loads the web layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr.settings import DEV_TOKEN, StartupError

if TYPE_CHECKING:
    from flask import Flask

    from ivr.settings import Settings


def create_app(test_config: Any = None, settings: Settings | None = None) -> Flask:
    """The Flask app (see `ivr.web.create_app`); here so `wsgi.py` reads `from ivr import create_app`."""
    from ivr.web import create_app as factory

    return factory(test_config, settings)


def preflight(settings: Any = None) -> list[str]:
    """What would stop a production server from starting (see `ivr.web.preflight`)."""
    from ivr.web import preflight as check

    return check(settings)


__all__ = ["DEV_TOKEN", "StartupError", "create_app", "preflight"]
