"""The environment, parsed once into one frozen object (CONTRACTS.md section 2).

The app factory, the CLI and gunicorn's config all take their settings from here; nothing
else in `ivr/` reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEV_TOKEN = "dev-only-not-secret"
# Names in the environment for each setting.
ENVIRONMENT = {
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "public_url": "IVR_PUBLIC_URL",
    "config_dir": "IVR_CONFIG_DIR",
    "database_url": "DATABASE_URL",
    "wallet_url": "IVR_WALLET_URL",
    "wallet_token": "IVR_WALLET_TOKEN",
    "twilio_account_sid": "TWILIO_ACCOUNT_SID",
    "sms_from": "IVR_SMS_FROM",
    "twilio_api_url": "TWILIO_API_URL",
    "ops_user": "IVR_OPS_USER",
    "ops_password": "IVR_OPS_PASSWORD",
    "metrics_token": "IVR_METRICS_TOKEN",
    "clock": "IVR_CLOCK",
    "instance_dir": "IVR_INSTANCE_DIR",
    "reloading": "IVR_RELOADING",
    "bind": "IVR_BIND",
    "workers": "IVR_WORKERS",
    "threads": "IVR_THREADS",
    "proxies": "IVR_PROXIES",
    "prometheus_multiproc_dir": "PROMETHEUS_MULTIPROC_DIR",
}


class Settings(BaseModel):
    """Every setting the IVR reads from its environment, with the contract's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    twilio_auth_token: str | None = None
    public_url: str | None = None
    config_dir: Path = Path("config")
    database_url: str | None = None  # None: a SQLite file under instance_dir
    wallet_url: str | None = None  # None: the demo wallet
    wallet_token: str | None = None
    twilio_account_sid: str | None = None  # None: texts go to the outbox only
    sms_from: str | None = None  # the texts' sender where a region sets no `sms_from`
    # Twilio's REST API (calls, texts, recordings): a local fake in tests and rehearsals.
    twilio_api_url: str = "https://api.twilio.com"
    ops_user: str | None = None
    ops_password: str | None = None
    metrics_token: str | None = None
    clock: str | None = None  # staging rehearsals: answer every call as if at this instant
    instance_dir: Path = Path("instance")
    reloading: bool = False  # set by gunicorn.conf.py for workers started by a reload
    bind: str = "0.0.0.0:8000"
    workers: int = Field(default=2, ge=1)
    threads: int = Field(default=4, ge=1)
    proxies: int = Field(default=0, ge=0, le=5)  # proxies in front that append X-Forwarded-For
    prometheus_multiproc_dir: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in `environ` (default: this process's environment); empty is unset."""
        env = os.environ if environ is None else environ
        given: dict[str, object] = {field: env[name] for field, name in ENVIRONMENT.items() if env.get(name)}
        if "reloading" in given:
            given["reloading"] = given["reloading"] == "1"
        return cls.model_validate(given)

    def replace(self, **changes: object) -> Settings:
        """A copy with `changes`, validated like the environment's values."""
        return type(self).model_validate({**self.model_dump(), **changes})

    def sqlite_default(self) -> str:
        """The store when DATABASE_URL is unset: a SQLite file under the instance folder."""
        folder = self.instance_dir if self.instance_dir.is_absolute() else Path.cwd() / self.instance_dir
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'ivr.sqlite3'}"

    @property
    def store_url(self) -> str:
        return self.database_url or self.sqlite_default()


class StartupError(RuntimeError):
    """The server must not start: missing secret or bad config."""
