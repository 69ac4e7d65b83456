"""Secrets never show in logs, rendered values or API output, whatever their encoding."""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import AsyncIterator
from urllib.parse import quote, quote_plus, urlencode

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_sc.secrets import MASK, Connection, SecretsMasker, SecretsMaskingFilter, mask_stream

SECRET = 'p@ss wörd/"quoted"\\+&='


@pytest.fixture
def masker() -> SecretsMasker:
    masker = SecretsMasker()
    masker.add_secret(SECRET)
    return masker


@pytest.mark.parametrize(
    "encoded",
    [
        SECRET,
        quote(SECRET, safe=""),
        quote(SECRET),
        "lower-hex",
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
        repr(SECRET)[1:-1],
    ],
    ids=[
        "plain",
        "percent",
        "percent-keep-slash",
        "percent-lower",
        "plus",
        "json",
        "json-utf8",
        "repr",
    ],
)
def test_every_encoding_of_a_secret_is_masked(masker: SecretsMasker, encoded: str) -> None:
    if encoded == "lower-hex":
        encoded = _lower_hex(quote(SECRET, safe=""))
    assert masker.mask(f"before {encoded} after") == f"before {MASK} after"


def _lower_hex(text: str) -> str:
    import re

    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def test_a_secret_inside_a_json_document_or_query_string_is_masked(masker: SecretsMasker) -> None:
    document = json.dumps({"config": {"password_hint": "none", "dsn": f"x://u:{SECRET}@h"}})
    assert SECRET not in masker.mask(document)
    assert json.dumps(SECRET)[1:-1] not in masker.mask(document)
    query = urlencode({"auth": SECRET, "page": "2"})
    assert masker.mask(query) == f"auth={MASK}&page=2"


def test_redact_hides_sensitive_keys_and_masks_registered_values() -> None:
    masker = SecretsMasker()
    masker.add_secret("registered-value")
    rendered = {
        "bash_command": "curl -H 'X: registered-value' https://x",
        "env": {"API_KEY": "short", "Authorization": {"bearer": "abc"}, "HOME": "/home/u"},
        "args": ("registered-value", 42),
        "my_password_field": 12345,
    }
    assert masker.redact(rendered) == {
        "bash_command": f"curl -H 'X: {MASK}' https://x",
        "env": {"API_KEY": MASK, "Authorization": {"bearer": MASK}, "HOME": "/home/u"},
        "args": (MASK, 42),
        "my_password_field": MASK,
    }


def test_sensitive_keys_are_configurable() -> None:
    masker = SecretsMasker(sensitive_keys={"pin"})
    assert masker.redact({"PIN_CODE": "1234", "password": "visible"}) == {
        "PIN_CODE": MASK,
        "password": "visible",
    }


def test_connection_password_and_sensitive_extra_are_registered() -> None:
    masker = SecretsMasker()
    conn = Connection(
        conn_id="c",
        password="conn-password",
        extra=json.dumps({"api_key": "extra-api-key", "region": "eu-west-1"}),
    )
    masker.add_connection(conn)
    text = "conn-password extra-api-key eu-west-1"
    assert masker.mask(text) == f"{MASK} {MASK} eu-west-1"


def test_only_variables_with_sensitive_keys_are_registered() -> None:
    masker = SecretsMasker()
    masker.add_variable("slack_token", "xoxb-123456")
    masker.add_variable("region", "eu-west-1")
    assert masker.mask("xoxb-123456 eu-west-1") == f"{MASK} eu-west-1"


def test_short_values_are_not_registered_but_keys_still_hide_them() -> None:
    masker = SecretsMasker(min_length=5)
    masker.add_secret("abc")
    assert masker.mask("abcdef") == "abcdef"
    assert masker.redact({"password": "abc"}) == {"password": MASK}


def test_a_multi_line_secret_is_masked_line_by_line() -> None:
    key = (
        "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END KEY-----"
    )
    masker = SecretsMasker()
    masker.add_secret(key)
    logged = "".join(f"[task] {line}\n" for line in key.splitlines())
    masked = masker.mask(logged)
    assert "MIIEvQIBADANBgkqhkiG9w0B" not in masked
    assert "AQEFAASCBKcwggSjAgEAAoIB" not in masked


# -- streams: a secret split across writes --------------------------------------------

LOG = f"connecting with {SECRET} to host\nthen {quote(SECRET, safe='')} again\nand {SECRET}"


@given(st.lists(st.integers(0, len(LOG)), max_size=12))
def test_a_secret_split_across_writes_is_still_masked(cuts: list[int]) -> None:
    masker = SecretsMasker()
    masker.add_secret(SECRET)
    stream = masker.stream()
    bounds = [0, *sorted(cuts), len(LOG)]
    written = "".join(stream.feed(LOG[a:b]) for a, b in itertools.pairwise(bounds))
    written += stream.flush()
    assert written == masker.mask(LOG)
    assert SECRET not in written


def test_a_stream_releases_complete_lines_at_once(masker: SecretsMasker) -> None:
    stream = masker.stream()
    assert stream.feed("first line\nsecond") == "first line\n"
    assert stream.flush() == "second"


@pytest.mark.anyio
async def test_mask_stream_masks_an_async_stream_of_chunks(masker: SecretsMasker) -> None:
    text = f"token={SECRET};"

    async def chunks() -> AsyncIterator[str]:
        for char in text:
            await anyio.lowlevel.checkpoint()
            yield char

    out = [piece async for piece in mask_stream(chunks(), masker)]
    assert "".join(out) == f"token={MASK};"


def test_logging_filter_masks_messages_arguments_and_tracebacks(masker: SecretsMasker) -> None:
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.addFilter(SecretsMaskingFilter(masker))
    logger = logging.getLogger("tests.secrets.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("login with %s", SECRET)
        try:
            raise RuntimeError(f"bad password {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = output.getvalue()
    assert SECRET not in text
    assert text.count(MASK) == 2
    assert "RuntimeError" in text
