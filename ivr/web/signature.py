"""Twilio's request signature, computed once per webhook.

Twilio signs the URL it called followed by each form field's name and value, fields sorted
by name (and a repeated field's values sorted, once each), with HMAC-SHA1 of the auth token,
base64-encoded. `RequestValidator.compute_signature` does the same through general code
paths; this is the same algorithm in one join and one HMAC (tests/test_signature.py proves
them equal on arbitrary forms and URLs). `RequestValidator.validate` stays the fallback for
the URL with and without its default port, which Twilio may sign either way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from twilio.request_validator import RequestValidator


class SignatureCheck:
    """X-Twilio-Signature for one auth token."""

    def __init__(self, token: str) -> None:
        self._key = token.encode("utf-8")
        self.validator = RequestValidator(token)

    def expected(self, url: str, form: Any) -> bytes:
        """The signature Twilio sends for `form` posted to `url` (a dict or a MultiDict). One
        pass over the fields, sorted by name: Twilio's forms repeat no field, so the sorted,
        deduplicated values of a repeated one (only a MultiDict holds them) are the rare branch."""
        if hasattr(form, "lists"):
            parts = [url]
            for name, values in sorted(form.lists()):
                if len(values) == 1:
                    parts.append(name + values[0])
                else:
                    parts.extend(name + value for value in sorted(set(values)))
            signed = "".join(parts)
        else:
            signed = url + "".join([name + form[name] for name in sorted(form)])
        digest = hmac.new(self._key, signed.encode("utf-8"), hashlib.sha1).digest()
        return base64.b64encode(digest)

    def ok(self, url: str, form: Any, signature: str) -> bool:
        """The URL as we know it first (the usual case: one HMAC); then Twilio's own check with
        and without the URL's port."""
        given = signature.encode("utf-8", "backslashreplace")  # a forged header may hold anything
        return hmac.compare_digest(self.expected(url, form), given) or bool(
            self.validator.validate(url, form, signature)
        )
