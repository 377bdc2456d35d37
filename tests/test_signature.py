"""The one-HMAC signature check computes exactly what Twilio's RequestValidator computes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from ivr.web.signature import SignatureCheck

TOKEN = "12345678901234567890123456789012"
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
URLS = st.builds(
    lambda host, path, query: f"https://{host}.example.com/{path}" + (f"?{query}" if query else ""),
    st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
    st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF, blacklist_characters="?#"), max_size=30),
    st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="#"), max_size=30),
)


@settings(max_examples=300, deadline=None)
@given(url=URLS, form=st.dictionaries(TEXT, TEXT, max_size=30))
def test_equal_to_twilio_on_a_plain_form(url: str, form: dict[str, str]) -> None:
    check = SignatureCheck(TOKEN)
    assert check.expected(url, form).decode() == RequestValidator(TOKEN).compute_signature(url, form)


@settings(max_examples=200, deadline=None)
@given(url=URLS, pairs=st.lists(st.tuples(TEXT, TEXT), max_size=30))
def test_equal_to_twilio_on_a_form_with_repeated_fields(url: str, pairs: list[tuple[str, str]]) -> None:
    form = MultiDict(pairs)  # what Flask parses: repeated names, repeated values
    check = SignatureCheck(TOKEN)
    assert check.expected(url, form).decode() == RequestValidator(TOKEN).compute_signature(url, form)


def test_a_signature_over_the_url_with_its_port_still_passes() -> None:
    form = {"CallSid": "CA" + "0" * 32, "From": "+447400123456"}
    signed = RequestValidator(TOKEN).compute_signature("https://ivr.example.com:443/voice", form)
    assert SignatureCheck(TOKEN).ok("https://ivr.example.com/voice", form, signed)
    assert not SignatureCheck(TOKEN).ok("https://ivr.example.com/voice", form, "forged")
