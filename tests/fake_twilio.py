"""A fake of Twilio's REST API on 127.0.0.1 (TWILIO_API_URL points the IVR at it): it records
every request (method, path, form fields, basic-auth user) and answers as Twilio's reference
documents: Calls.json and Messages.json with 201 and a SID, a recording's .mp3 with audio."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.servers import free_port

ACCOUNT = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token"
AUDIO = b"ID3\x03\x00fake-mp3-audio"


@dataclass
class FakeTwilio:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    refuse_calls: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self) -> list[dict[str, str]]:
        """The form of every call placed (POST .../Calls.json), in order."""
        with self._lock:
            return [
                r["form"]
                for r in self.requests
                if r["method"] == "POST" and r["path"].endswith("/Calls.json")
            ]


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    port = free_port()
    fake = FakeTwilio(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def _user(self) -> tuple[str, str]:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return "", ""
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user, password

        def _record(self, form: dict[str, str]) -> None:
            with fake._lock:
                fake.requests.append(
                    {"method": self.command, "path": self.path, "form": form, "user": self._user()[0]}
                )

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            self._record(form)
            if self._user() != (ACCOUNT, AUTH_TOKEN):
                self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            elif self.path.endswith("/Calls.json"):
                if fake.refuse_calls:
                    self._json(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
                    return
                sid = "CA" + secrets.token_hex(16)
                self._json(
                    201, {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From")}
                )
            elif self.path.endswith("/Messages.json"):
                self._json(
                    201, {"sid": "SM" + secrets.token_hex(16), "status": "queued", "to": form.get("To")}
                )
            else:
                self._json(404, {"code": 20404, "message": "not faked", "status": 404})

        def do_GET(self) -> None:
            self._record({})
            if self._user() != (ACCOUNT, AUTH_TOKEN):
                self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            elif "/Recordings/" in self.path and self.path.endswith(".mp3"):
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Content-Length", str(len(AUDIO)))
                self.end_headers()
                self.wfile.write(AUDIO)
            else:
                self._json(404, {"code": 20404, "message": "not faked", "status": 404})

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
