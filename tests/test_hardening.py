"""Tried as an attacker and a busy caller would: every action done once, nothing poisoned,
no abuse path (issue 12). Each test failed before its fix."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select, text

from ivr.store import Store, metadata
from ivr.store.tables import call_state, calls, wallet_transactions
from ivr.wallet import WalletError
from ivr.wallet.http import HttpWallet
from tests.conftest import Phone, internal_errors, stored_cases, twilio_sid
from tests.test_store import database_url as database_url
from tests.test_store import shipped_app
from tests.test_transactions import texted_code

LI_HUA = "+8613800138000"


def add_pending(hotline: Any, reference: str, account: str = "A-1001") -> None:
    hotline.wallet.wallet.seed()
    with hotline.store.begin() as connection:
        connection.execute(
            insert(wallet_transactions).values(
                reference=reference, account=account, status="pending", amount="9.00", currency="USDT"
            )
        )


def status_of(hotline: Any, reference: str) -> str:
    return str(hotline.wallet.get_transaction(reference).status)


# 1. A second action in the same call acts; Twilio's retry of one webhook replays.


def test_two_cancels_in_one_call_both_cancel_and_a_retry_of_each_has_one_effect(
    phone: Phone, hotline: Any
) -> None:
    add_pending(hotline, "70010004")
    phone.keys("2")
    phone.press(texted_code(hotline))
    phone.press("70010002")
    first = phone.press("1")
    assert "已取消" in first.text and "资金仍在您的钱包中" in first.text
    assert phone.retry().raw == first.raw  # Twilio sent it twice: the same answer, no new act
    assert status_of(hotline, "70010002") == "cancelled"
    phone.press("2")  # the main menu again: transactions, already verified
    phone.press("70010004")
    second = phone.press("1")
    assert second.raw != first.raw and "已取消" in second.text
    assert status_of(hotline, "70010004") == "cancelled"  # the thief's second transfer is stopped
    assert phone.retry().raw == second.raw


def test_two_disputes_in_one_call_store_two_cases(phone: Phone, hotline: Any) -> None:
    phone.keys("2")
    phone.press(texted_code(hotline))
    for reference in ("70010001", "70010003"):
        phone.press(reference)
        phone.press("2")
        phone.retry()
        phone.press("2")  # back to transactions from the main menu
    disputes = stored_cases(hotline, "dispute")
    assert sorted(case["transaction"] for case in disputes) == ["70010001", "70010003"]


def test_three_code_requests_in_one_call_each_send_a_code(phone: Phone, hotline: Any) -> None:
    phone.keys("2")
    for _ in range(3):  # three wrong codes, then "to get a new code, press 1"
        phone.press("000000")
        phone.press("000000")
        phone.press("000000")
        phone.press("1")
        phone.retry()
    codes = [sms for sms in hotline.sms.outbox() if "验证码" in sms["body"]]
    assert len(codes) == 4  # the first and three new ones, each once
    phone.press(texted_code(hotline))
    assert "请输入交易编号" in (phone.last.text if phone.last else "")


# 2. and 3. Nothing poisons the call records; call state is upserted; no parameters in logs.


def test_a_row_the_store_refuses_is_dropped_and_the_rest_are_recorded(
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = shipped_app(database_url, tmp_path)
    hotline = app.extensions["ivr"]
    hotline.journal.start_call(
        {
            "sid": twilio_sid("poison"),
            "region": None,  # NOT NULL: the store refuses this row
            "matched_by": "caller",
            "language": "zh-CN",
            "caller_masked": "x",
            "started_at": hotline.now(),
            "status": "in-progress",
            "journey": "",
        }
    )
    for n in range(20):
        Phone(app.test_client(), sid=f"CA{n:032x}").call()
    with caplog.at_level(logging.ERROR, logger="ivr.journal"):
        hotline.journal.flush()
    assert len(hotline.store.all(select(calls.c.sid))) == 20
    assert "call record dropped" in caplog.text
    Phone(app.test_client(), sid=twilio_sid("later")).call()
    hotline.journal.flush()
    assert len(hotline.store.all(select(calls.c.sid))) == 21  # nothing is retried forever
    hotline.store.dispose()


def test_six_copies_of_a_typed_number_step_at_once_all_answer(
    database_url: str,
    tmp_path: Path,
) -> None:
    app = shipped_app(database_url, tmp_path)
    hotline = app.extensions["ivr"]
    caller = Phone(app.test_client(), caller="anonymous")
    caller.keys("3")
    path = caller.last.gather_action if caller.last else ""
    answers: list[str] = []

    def send() -> None:
        copy = Phone(app.test_client(), caller="anonymous", sid=caller.sid)
        answers.append(copy.twiml(path, Digits="447400123456").text)

    for _ in range(3):
        threads = [threading.Thread(target=send) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(answers) == 18 and all("PIN" in answer for answer in answers), answers
    assert hotline.load_state(caller.sid)["lock_phone"] == "+447400123456"
    assert internal_errors(app) == 0
    hotline.store.dispose()


def test_a_store_error_never_logs_its_parameters(hotline: Any) -> None:
    with pytest.raises(Exception) as raised, hotline.store.begin() as connection:
        connection.execute(insert(call_state).values(sid=LI_HUA, data=None, updated_at=hotline.now()))
    assert "8613800138000" not in str(raised.value)
    assert "hidden" in str(raised.value)  # SQLAlchemy says the parameters were hidden


# 4. SMS bombing by a spoofed caller ID.


def test_thirty_lockdowns_from_one_spoofed_number_lock_every_time_but_text_three(app: Flask) -> None:
    heard = set()
    for n in range(30):
        answer = Phone(
            app.test_client(), caller="+14155550123", dialed="+18005550100", sid=f"CA{n:032x}"
        ).keys("3", "1")
        heard.add(answer.text.split("reference number is")[0])
    hotline = app.extensions["ivr"]
    lockdowns = stored_cases(hotline, "lockdown")
    assert len(lockdowns) == 30 and {case["outcome"] for case in lockdowns} == {"locked"}
    assert len(hotline.sms.outbox()) == 3
    assert len(heard) == 1  # the same words whether or not a text went


# 5. Toll fraud through callbacks.


@pytest.mark.parametrize(
    "number",
    [
        "449098790000",  # UK premium rate
        "19005550123",  # US premium rate
        "881612345678",  # satellite
        "2697712345",  # Comoros: no region lists it
        "12345",  # not a number at all
    ],
)
def test_a_callback_to_a_number_we_must_not_dial_is_refused(phone: Phone, hotline: Any, number: str) -> None:
    caller = Phone(phone.client, caller="anonymous", dialed="+442038089999")
    caller.keys("0", "1")  # 04:00 in London: agents closed, so the offer; 1 a callback
    refused = caller.press(number)
    assert "can't call that number back" in refused.text or "full phone number" in refused.text
    assert refused.gather_action.startswith("/voice/menu/callback.number")
    assert stored_cases(hotline, "callback") == []
    booked = caller.press("447400123456")
    assert "ending 3 4 5 6" in booked.text
    assert [case["callback_number"] for case in stored_cases(hotline, "callback")] == ["+447400123456"]


def test_a_premium_rate_caller_id_is_not_called_back(phone: Phone, hotline: Any) -> None:
    caller = Phone(phone.client, caller="+449098790000", dialed="+442038089999")
    asked = caller.keys("0", "1")  # agents closed: the offer, then 1 a callback
    assert "can't call that number back" in asked.text
    assert stored_cases(hotline, "callback") == []


# 6. A slow wallet and an unreachable store do not hold a call.


@pytest.fixture
def dripping_wallet() -> Iterator[str]:
    """A wallet back end that answers one byte every 0.4 s, forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def drip(client: socket.socket) -> None:
        try:
            client.recv(65536)
            client.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            )
            while not stop.is_set():
                client.sendall(b" ")
                time.sleep(0.4)
        except OSError:
            pass
        finally:
            client.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(client,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


def test_a_wallet_that_drips_its_answer_is_cut_off_at_the_webhooks_deadline(
    app_factory: Any, dripping_wallet: str
) -> None:
    wallet = HttpWallet(dripping_wallet, "token")
    started = time.monotonic()
    with pytest.raises(WalletError):
        wallet.find_by_phone(LI_HUA)
    assert time.monotonic() - started < 2.5
    app = app_factory(WALLET=HttpWallet(dripping_wallet, "token"))
    phone = Phone(app.test_client())
    phone.keys("3")
    started = time.monotonic()
    answer = phone.press("1")
    assert time.monotonic() - started < 3.5  # one deadline for all wallet work in the webhook
    assert answer.dialed == ["+442079460001"]  # the fraud desk takes it from here
    assert [case["outcome"] for case in stored_cases(app.extensions["ivr"])] == ["lock_failed"]


# 7. Memory before the signature.


def test_a_body_over_64_kib_is_refused_before_it_is_read(client: Any) -> None:
    body = b"Digits=" + b"1" * (200 * 1024)
    response = client.post("/voice", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    small = client.post("/voice", data={"CallSid": twilio_sid("x")})
    assert small.status_code == 403  # under the cap: then the signature decides


# 9. Readiness tells the truth; two servers migrate one at a time.


def test_readiness_sees_a_dropped_schema_and_restores_it(app: Flask, hotline: Any) -> None:
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    with hotline.store.engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(text("DROP TABLE alembic_version"))
    assert client.get("/readyz").status_code == 200  # migrated again at once
    Phone(client, caller="+447400123456", dialed="+442038089999").keys("3", "1")
    assert [case["outcome"] for case in stored_cases(hotline)] == ["locked"]


def _migrate(url: str) -> None:
    Store(url).ensure_schema()


def test_two_servers_starting_at_once_on_a_new_sqlite_file_make_every_table(tmp_path: Path) -> None:
    import multiprocessing

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_migrate, args=(url,)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    store = Store(url)
    with store.engine.connect() as connection:
        from sqlalchemy import inspect

        assert set(metadata.tables) <= set(inspect(connection).get_table_names())
    store.dispose()


# 10. Smaller holes.


@pytest.mark.parametrize("field", ["miss", "n"])
def test_unicode_digits_in_our_query_flags_are_ignored(phone: Phone, field: str) -> None:
    phone.call()
    answer = phone.twiml(f"/voice/menu/main?lang=zh-CN&{field}=%C2%B2", Digits="7")  # ², as sent
    assert "您按的键不在选项中" in answer.text


def test_a_unicode_call_duration_closes_the_call_without_one(phone: Phone, hotline: Any) -> None:
    phone.call()
    phone.twiml("/voice/status", CallStatus="completed", CallDuration="²")
    assert hotline.call_record(phone.sid)["duration"] is None


def test_ops_logins_are_throttled_per_client_and_logged_without_the_password(
    app_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_factory(OPS_USER="ops", OPS_PASSWORD="s3cret-pw")
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="ivr.ops"):
        codes = [client.get("/ops", auth=("ops", f"guess-{n}")).status_code for n in range(7)]
    assert codes == [401] * 5 + [429] * 2
    assert client.get("/ops", auth=("ops", "s3cret-pw")).status_code == 429  # even the right one waits
    assert caplog.text.count("ops login failed") == 5 and "guess-" not in caplog.text
    other = app.test_client()
    assert (
        other.get("/ops", auth=("ops", "s3cret-pw"), environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code
        == 200
    )


def test_metrics_need_the_bearer_token_when_one_is_set(app_factory: Any) -> None:
    client = app_factory(METRICS_TOKEN="prom-token").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answered = client.get("/metrics", headers={"Authorization": "Bearer prom-token"})
    assert answered.status_code == 200 and b"ivr_webhook_seconds" in answered.data
