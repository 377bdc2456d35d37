"""OK Wallet hotline: a Twilio IVR with regional routing, business hours and self-service."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

DEV_TOKEN = "dev-only-not-secret"


class StartupError(RuntimeError):
    """The server must not start: missing secret or bad config."""


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory: settings from the environment, or `test_config` in tests."""
    from sqlalchemy.exc import ArgumentError

    from ivr import web
    from ivr.config import ConfigError
    from ivr.hotline import system_clock
    from ivr.metrics import Metrics

    # Twilio's HTTP client logs message bodies and numbers at INFO: never let them through.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        TWILIO_AUTH_TOKEN=os.environ.get("TWILIO_AUTH_TOKEN"),
        PUBLIC_URL=os.environ.get("IVR_PUBLIC_URL"),
        CONFIG_DIR=os.environ.get("IVR_CONFIG_DIR", "config"),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        WALLET_URL=os.environ.get("IVR_WALLET_URL"),
        WALLET_TOKEN=os.environ.get("IVR_WALLET_TOKEN"),
        TWILIO_ACCOUNT_SID=os.environ.get("TWILIO_ACCOUNT_SID"),
        SMS_FROM=os.environ.get("IVR_SMS_FROM"),
        METRICS_TOKEN=os.environ.get("IVR_METRICS_TOKEN"),
        SMS_HTTP_CLIENT=None,  # tests: a fake twilio.http.HttpClient
        WALLET=None,  # tests: any Wallet
        INSTANCE_DIR=os.environ.get("IVR_INSTANCE_DIR", "instance"),
        JOURNAL_BACKGROUND=True,  # tests: write call records only on flush()
        DEV_MODE=False,
        CLOCK=system_clock,
    )
    if test_config:
        app.config.from_mapping(test_config)
    if os.environ.get("IVR_CLOCK") and not (test_config and "CLOCK" in test_config):
        app.config["CLOCK"] = rehearsal_clock(os.environ["IVR_CLOCK"])
    if not app.config["TWILIO_AUTH_TOKEN"]:
        if not app.config["DEV_MODE"]:
            raise StartupError(
                "TWILIO_AUTH_TOKEN is not set: refusing to serve unsigned webhooks "
                "(for local development use `ivr serve --dev`, which binds 127.0.0.1 only)"
            )
        app.config["TWILIO_AUTH_TOKEN"] = DEV_TOKEN
    try:
        hotline = build_hotline(app.config)
    except ConfigError as exc:
        snapshot = Path(app.config["INSTANCE_DIR"]) / "last-good-config"
        if os.environ.get("IVR_RELOADING") != "1" or not (snapshot / "regions.yaml").exists():
            raise StartupError("bad config, not starting:\n" + "\n".join(exc.errors)) from exc
        # A reload (gunicorn HUP) with a bad edit: keep serving the last good config.
        logging.getLogger("ivr").error(
            "config edit refused, serving the last good config:\n%s", "\n".join(exc.errors)
        )
        hotline = build_hotline({**app.config, "CONFIG_DIR": str(snapshot), "SNAPSHOT": False})
    except ArgumentError as exc:
        raise StartupError(f"DATABASE_URL is not a database URL: {exc}") from exc
    hotline.warm_up()
    metrics = Metrics()
    app.extensions["ivr"] = hotline
    app.extensions["ivr.metrics"] = metrics
    hotline.metrics = metrics

    def wallet_call(operation: str, seconds: float, ok: bool) -> None:
        metrics.wallet_seconds.labels(operation=operation, ok=str(ok).lower()).observe(seconds)
        if not ok:
            metrics.errors.labels(kind="wallet").inc()

    hotline.wallet.on_call = wallet_call
    hotline.store.on_transaction = metrics.store_seconds.labels(what="transaction").observe
    hotline.sms.on_failure = lambda: metrics.errors.labels(kind="sms").inc()
    web.init_app(app)
    return app


def preflight(environ: Mapping[str, str] | None = None) -> list[str]:
    """What would stop a production server from starting: a missing signing secret and every
    config error (`file:line: key: problem`). Empty when it can start."""
    from ivr.config import ConfigError, load_config

    env = os.environ if environ is None else environ
    problems = []
    if not env.get("TWILIO_AUTH_TOKEN"):
        problems.append("TWILIO_AUTH_TOKEN is not set: refusing to serve unsigned webhooks")
    try:
        load_config(Path(env.get("IVR_CONFIG_DIR", "config")))
    except ConfigError as exc:
        problems.extend(exc.errors)
    if env.get("DATABASE_URL"):
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(env["DATABASE_URL"])
        except ArgumentError:
            problems.append("DATABASE_URL is not a database URL (e.g. postgresql+psycopg://user@host/db)")
    return problems


def rehearsal_clock(value: str) -> Any:
    """IVR_CLOCK: a staging server that answers every call as if at that instant (rehearsals)."""
    from datetime import datetime

    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise StartupError(f"IVR_CLOCK={value!r} is not an ISO-8601 instant") from None
    if instant.tzinfo is None:
        raise StartupError(f"IVR_CLOCK={value!r} needs its UTC offset")
    logging.getLogger("ivr").warning(
        "IVR_CLOCK is set: every call is answered as if at %s", instant.isoformat()
    )
    return lambda: instant


def build_hotline(settings: Mapping[str, Any]) -> Any:
    """The hotline core from settings: store, wallet back end and SMS sender."""
    from twilio.rest import Client

    from ivr.hotline import Hotline, system_clock
    from ivr.sms import SmsSender
    from ivr.store import Store
    from ivr.wallet.demo import DemoWallet
    from ivr.wallet.guard import GuardedWallet
    from ivr.wallet.http import HttpWallet

    store = Store(settings.get("DATABASE_URL"))
    wallet = settings.get("WALLET")
    if wallet is None and settings.get("WALLET_URL"):
        wallet = HttpWallet(settings["WALLET_URL"], settings.get("WALLET_TOKEN"))
    if wallet is None:
        wallet = DemoWallet(store)
    wallet = GuardedWallet(wallet)
    client = None
    if settings.get("TWILIO_ACCOUNT_SID") and settings.get("TWILIO_AUTH_TOKEN"):
        client = Client(
            settings["TWILIO_ACCOUNT_SID"],
            settings["TWILIO_AUTH_TOKEN"],
            http_client=settings.get("SMS_HTTP_CLIENT"),
        )
    instance = Path(settings.get("INSTANCE_DIR") or "instance")
    return Hotline(
        settings.get("CONFIG_DIR") or "config",
        store,
        settings.get("CLOCK") or system_clock,
        wallet=wallet,
        sms=SmsSender(store, client, settings.get("SMS_FROM")),
        secret=settings.get("TWILIO_AUTH_TOKEN") or "",
        snapshot_dir=instance / "last-good-config" if settings.get("SNAPSHOT", True) else None,
        background_journal=settings.get("JOURNAL_BACKGROUND", True),
    )


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
