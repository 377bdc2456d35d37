"""A small local wallet back end speaking docs/wallet-api.yaml, backed by the demo wallet."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, abort, jsonify, request
from werkzeug.serving import make_server

from ivr.wallet import NotCancellable
from ivr.wallet.demo import DemoWallet

TOKEN = "wallet-test-token"


def wallet_api(wallet: DemoWallet, delay: float = 0.0) -> Flask:
    app = Flask("wallet")

    @app.before_request
    def authenticate() -> None:
        time.sleep(delay)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            abort(401)

    def found(value: Any) -> Any:
        if value is None:
            abort(404)
        return jsonify(value.as_json())

    @app.get("/accounts")
    def by_phone() -> Any:
        return found(wallet.find_by_phone(request.args.get("phone", "")))

    @app.get("/accounts/<account>")
    def account(account: str) -> Any:
        return found(wallet.get_account(account))

    @app.post("/accounts/<account>/pin-check")
    def pin_check(account: str) -> Any:
        if wallet.get_account(account) is None:
            abort(404)
        return jsonify({"valid": wallet.check_pin(account, str((request.json or {}).get("pin", "")))})

    @app.post("/accounts/<account>/lock")
    def lock(account: str) -> Any:
        if wallet.get_account(account) is None:
            abort(404)
        return found(wallet.lock(account, str((request.json or {}).get("reason", ""))))

    @app.get("/accounts/<account>/transactions")
    def latest(account: str) -> Any:
        if wallet.get_account(account) is None:
            abort(404)
        limit = min(max(request.args.get("limit", 3, type=int) or 3, 1), 20)
        return jsonify({"transactions": [t.as_json() for t in wallet.latest_transactions(account, limit)]})

    @app.get("/transactions/<reference>")
    def transaction(reference: str) -> Any:
        return found(wallet.get_transaction(reference))

    @app.post("/transactions/<reference>/cancel")
    def cancel(reference: str) -> Any:
        if wallet.get_transaction(reference) is None:
            abort(404)
        try:
            return found(wallet.cancel(reference))
        except NotCancellable:
            abort(409)

    @app.post("/transactions/<reference>/disputes")
    def dispute(reference: str) -> Any:
        if wallet.get_transaction(reference) is None:
            abort(404)
        return found(wallet.open_dispute(reference, str((request.json or {}).get("case_reference")))), 201

    return app


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` on a free local port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
