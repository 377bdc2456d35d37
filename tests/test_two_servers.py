"""Stateless servers: one call whose webhooks alternate between two gunicorn processes on one
PostgreSQL, signed for one public URL, as behind a load balancer."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from ivr.store import Store
from ivr.store.tables import cases, sms_outbox, wallet_transactions
from ivr.tools.simulator import Simulator, signed_transport
from tests.conftest import POSTGRES_SKIP
from tests.servers import gunicorn
from tests.test_store import reset_postgres

POSTGRES_URL = os.environ.get("IVR_TEST_POSTGRES_URL")
PUBLIC = "https://ivr.example.com"
TOKEN = "two-server-token"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP),
]

SID = "CA" + "0" * 31 + "1"


def test_one_call_alternating_between_two_servers(tmp_path: Path, config_dir: Path) -> None:
    assert POSTGRES_URL
    reset_postgres(POSTGRES_URL)
    env = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "IVR_PUBLIC_URL": PUBLIC,
        "DATABASE_URL": POSTGRES_URL,
        "IVR_CONFIG_DIR": str(config_dir),
    }
    store = Store(POSTGRES_URL)
    served: list[str] = []
    with (
        gunicorn({**env, "IVR_INSTANCE_DIR": str(tmp_path / "a")}) as first,
        gunicorn({**env, "IVR_INSTANCE_DIR": str(tmp_path / "b")}) as second,
    ):
        servers = [first, second]

        def send(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
            server = servers[len(served) % 2]  # strictly alternate, whatever the step
            served.append(server)
            response = requests.post(
                server + url.removeprefix(PUBLIC), data=form, headers=headers, timeout=10
            )
            return response.status_code, response.text

        def keypad(heard: str) -> str | None:
            presses = keypad.presses  # type: ignore[attr-defined]
            if not presses:
                return None
            key = presses.pop(0)
            if key == "CODE":  # read the texted code, as the caller would from their phone
                body = store.one(select(sms_outbox.c.body).order_by(sms_outbox.c.id.desc()))["body"]
                key = re.search(r"验证码是(\d{6})", body).group(1)  # type: ignore[union-attr]
            return str(key)

        keypad.presses = ["2", "CODE", "70010002", "1"]  # type: ignore[attr-defined]
        transcript = Simulator(
            signed_transport(PUBLIC, TOKEN, send), "+8613800138000", "+864001234567", keypad
        ).run()
    heard = transcript.heard()
    assert "请输入交易编号" in heard and "已取消" in heard, heard
    assert served.count(first) >= 3 and served.count(second) >= 3
    row: Any = store.one(
        select(wallet_transactions.c.status).where(wallet_transactions.c.reference == "70010002")
    )
    assert row["status"] == "cancelled"
    assert store.all(select(cases)) == []
    store.dispose()


def test_a_request_signed_for_another_url_is_refused_by_a_real_server(
    tmp_path: Path, config_dir: Path
) -> None:
    assert POSTGRES_URL
    env = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "IVR_PUBLIC_URL": PUBLIC,
        "DATABASE_URL": POSTGRES_URL,
        "IVR_CONFIG_DIR": str(config_dir),
        "IVR_INSTANCE_DIR": str(tmp_path),
    }
    with gunicorn(env) as server:

        def send(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
            response = requests.post(server + "/voice", data=form, headers=headers, timeout=10)
            return response.status_code, response.text

        status, _ = signed_transport("https://evil.example.com", TOKEN, send)("/voice", {"CallSid": SID})
        assert status == 403
        status, body = signed_transport(PUBLIC, TOKEN, send)(
            "/voice", {"CallSid": SID, "From": "+8613800138000"}
        )
        assert status == 200 and "紧急冻结钱包" in body
