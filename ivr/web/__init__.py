"""The web layer: the Flask app factory, the webhooks, the ops page and /metrics. The only
part of `ivr/` that imports Flask."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from ivr.settings import DEV_TOKEN, Settings, StartupError

# Keys a test may hand `create_app` in place of the environment's settings.
_SETTING_KEYS = {
    "TWILIO_AUTH_TOKEN": "twilio_auth_token",
    "PUBLIC_URL": "public_url",
    "CONFIG_DIR": "config_dir",
    "DATABASE_URL": "database_url",
    "WALLET_URL": "wallet_url",
    "WALLET_TOKEN": "wallet_token",
    "TWILIO_ACCOUNT_SID": "twilio_account_sid",
    "SMS_FROM": "sms_from",
    "TWILIO_API_URL": "twilio_api_url",
    "OPS_USER": "ops_user",
    "OPS_PASSWORD": "ops_password",
    "METRICS_TOKEN": "metrics_token",
    "INSTANCE_DIR": "instance_dir",
}


def create_app(test_config: Mapping[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Application factory: settings from the environment (parsed once), or `test_config` in
    tests, which may also hand in fakes: WALLET, SMS_HTTP_CLIENT, CLOCK, JOURNAL_BACKGROUND."""
    from sqlalchemy.exc import ArgumentError

    from ivr.config import ConfigError
    from ivr.flows import GRAPH, GraphError, check_phrases
    from ivr.runtime import build_runtime
    from ivr.store import UnsupportedStore
    from ivr.web import webhooks
    from ivr.web.metrics import Metrics

    # Twilio's HTTP client logs message bodies and numbers at INFO: never let them through.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    overrides = dict(test_config or {})
    settings = settings or Settings.from_env()
    changes = {field: overrides.pop(key) for key, field in _SETTING_KEYS.items() if key in overrides}
    settings = settings.replace(**changes) if changes else settings
    if not settings.twilio_auth_token:
        if not overrides.get("DEV_MODE"):
            raise StartupError(
                "TWILIO_AUTH_TOKEN is not set: refusing to serve unsigned webhooks "
                "(for local development use `ivr serve --dev`, which binds 127.0.0.1 only)"
            )
        settings = settings.replace(twilio_auth_token=DEV_TOKEN)
    try:
        GRAPH.raise_for_problems()
    except GraphError as exc:
        raise StartupError("the call flows are incomplete, not starting:\n" + "\n".join(exc.errors)) from exc
    fakes = {
        "wallet": overrides.get("WALLET"),
        "sms_http_client": overrides.get("SMS_HTTP_CLIENT"),
        "clock": overrides.get("CLOCK"),
        "background_journal": overrides.get("JOURNAL_BACKGROUND", True),
    }
    try:
        runtime = build_runtime(settings, **fakes)
    except ConfigError as exc:
        snapshot = settings.instance_dir / "last-good-config"
        if not settings.reloading or not (snapshot / "regions.yaml").exists():
            raise StartupError("bad config, not starting:\n" + "\n".join(exc.errors)) from exc
        # A reload (gunicorn HUP) with a bad edit: keep serving the last good config.
        logging.getLogger("ivr").error(
            "config edit refused, serving the last good config:\n%s", "\n".join(exc.errors)
        )
        runtime = build_runtime(settings, snapshot=False, config_dir=snapshot, **fakes)
    except UnsupportedStore as exc:
        raise StartupError(f"DATABASE_URL: {exc}") from exc
    except ArgumentError as exc:
        raise StartupError(f"DATABASE_URL is not a database URL: {exc}") from exc
    shared = check_phrases(runtime.config)
    if shared:
        raise StartupError("speech could not tell some options apart, not starting:\n" + "\n".join(shared))
    runtime.warm_up()

    app = Flask(__name__, instance_relative_config=True)
    app.config.update(
        PUBLIC_URL=settings.public_url,
        OPS_USER=settings.ops_user,
        OPS_PASSWORD=settings.ops_password,
        METRICS_TOKEN=settings.metrics_token,
        TWILIO_AUTH_TOKEN=settings.twilio_auth_token,
    )
    app.extensions["ivr.settings"] = settings
    metrics = Metrics(multiprocess=bool(settings.prometheus_multiproc_dir))
    app.extensions["ivr"] = runtime
    app.extensions["ivr.metrics"] = metrics
    runtime.events.metrics = metrics

    def wallet_call(operation: str, seconds: float, ok: bool) -> None:
        metrics.wallet_seconds.labels(operation=operation, ok=str(ok).lower()).observe(seconds)
        if not ok:
            metrics.errors.labels(kind="wallet").inc()

    runtime.wallet.on_call = wallet_call  # type: ignore[attr-defined]
    runtime.store.on_transaction = metrics.store_seconds.labels(what="transaction").observe
    runtime.sms.on_failure = lambda: metrics.errors.labels(kind="sms").inc()
    webhooks.init_app(app)
    return app


def preflight(settings: Settings | Mapping[str, str] | None = None) -> list[str]:
    """What would stop a production server from starting: a missing signing secret, an
    incomplete flow graph and every config error (`file:line: key: problem`). Empty when it
    can start."""
    from ivr.config import ConfigError, load_config
    from ivr.flows import GRAPH, PHRASE_KEYS, PROMPT_KEYS, check_phrases

    if not isinstance(settings, Settings):
        settings = Settings.from_env(settings)  # an environment (default: this process's)
    problems = list(GRAPH.problems)
    if not settings.twilio_auth_token:
        problems.append("TWILIO_AUTH_TOKEN is not set: refusing to serve unsigned webhooks")
    try:
        problems.extend(check_phrases(load_config(Path(settings.config_dir), PROMPT_KEYS, PHRASE_KEYS)))
    except ConfigError as exc:
        problems.extend(exc.errors)
    if settings.database_url:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from ivr.store import UnsupportedStore, check_url

        try:
            make_url(settings.database_url)
            check_url(settings.database_url)
        except UnsupportedStore as exc:
            problems.append(f"DATABASE_URL: {exc}")
        except ArgumentError:
            problems.append("DATABASE_URL is not a database URL (e.g. postgresql+psycopg://user@host/db)")
    return problems


__all__ = ["DEV_TOKEN", "StartupError", "create_app", "preflight"]
