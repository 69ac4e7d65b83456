"""Connections parse and render Airflow's URI and JSON forms, odd characters included."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_sc.secrets import Connection, ConnectionFormatError


def test_uri_with_every_part_parses_like_airflow() -> None:
    conn = Connection.from_uri(
        "my_db", "my-conn-type://my%20login:p%40ss%3Aword@db.example.com:5432/my%2Fschema?a=1&b=x+y"
    )
    assert conn.conn_type == "my_conn_type"
    assert conn.login == "my login"
    assert conn.password == "p@ss:word"
    assert conn.host == "db.example.com"
    assert conn.port == 5432
    assert conn.schema == "my/schema"
    assert conn.extra_dejson == {"a": "1", "b": "x y"}


def test_postgresql_scheme_is_the_postgres_type() -> None:
    assert Connection.from_uri("x", "postgresql://u:p@h/db").conn_type == "postgres"


def test_host_with_a_protocol_round_trips() -> None:
    conn = Connection(conn_id="api", conn_type="http", host="https://api.example.com", port=8443)
    assert conn.get_uri() == "http://https://api.example.com:8443"
    assert Connection.from_uri("api", conn.get_uri()).host == "https://api.example.com"


def test_nested_extra_travels_as_extra_json() -> None:
    extra = {"nested": {"a": [1, 2]}, "flag": True}
    conn = Connection(conn_id="x", conn_type="aws", extra=json.dumps(extra))
    uri = conn.get_uri()
    assert "__extra__=" in uri
    assert Connection.from_uri("x", uri).extra_dejson == extra


def test_flat_extra_travels_as_a_query_string() -> None:
    conn = Connection(conn_id="x", conn_type="fs", extra=json.dumps({"path": "/tmp/a b"}))
    assert conn.get_uri() == "fs:///?path=%2Ftmp%2Fa+b"
    assert Connection.from_uri("x", conn.get_uri()).extra_dejson == {"path": "/tmp/a b"}


def test_port_without_host_or_login_keeps_the_port() -> None:
    conn = Connection(conn_id="x", conn_type="redis", port=6379)
    assert Connection.from_uri("x", conn.get_uri()).port == 6379


def test_json_form_accepts_extra_as_object_and_port_as_text() -> None:
    conn = Connection.from_json(
        '{"conn_type": "google-cloud-platform", "host": "h", "port": "5432",'
        ' "extra": {"project": "p"}}',
        "gcp",
    )
    assert (conn.conn_type, conn.port, conn.extra_dejson) == (
        "google_cloud_platform",
        5432,
        {"project": "p"},
    )
    assert json.loads(conn.to_json()) == {
        "conn_type": "google_cloud_platform",
        "host": "h",
        "port": 5432,
        "extra": {"project": "p"},
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"conn_type": "x", "port": "eighty"}', "port must be an integer"),
        ('{"conn_type": "x", "hostname": "h"}', "unknown field"),
        ('{"conn_type": "x", "extra": "[1]"}', "extra must be a JSON object"),
        ("[1, 2]", "JSON must be an object"),
    ],
)
def test_malformed_json_form_says_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(ConnectionFormatError, match=message):
        Connection.from_json(value, "x")


@pytest.mark.parametrize("uri", ["a://b://c://d", "no-scheme-here", "x://h:notaport"])
def test_malformed_uri_is_an_error(uri: str) -> None:
    with pytest.raises(ConnectionFormatError):
        Connection.from_uri("x", uri)


def test_deserialize_picks_json_or_uri() -> None:
    assert Connection.deserialize("x", ' {"conn_type": "http", "host": "h"}').host == "h"
    assert Connection.deserialize("x", "http://h").host == "h"


def test_repr_hides_the_password() -> None:
    assert "hunter22" not in repr(Connection(conn_id="x", password="hunter22"))


# -- property: every connection survives the URI and JSON forms ------------------------

ODD_TEXT = st.text(min_size=1, max_size=30)
HOSTS = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda h: h == h.lower() and "://" not in h
)
CONN_TYPES = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12).filter(
    lambda t: t[0].isalpha() and t != "postgresql"
)
EXTRAS = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), min_size=1, max_size=4),
    st.dictionaries(
        st.text(min_size=1, max_size=10),
        st.recursive(st.integers() | st.booleans() | ODD_TEXT, lambda c: st.lists(c, max_size=3)),
        min_size=1,
        max_size=4,
    ),
)


@st.composite
def connections(draw: st.DrawFn) -> Connection:
    extra = draw(EXTRAS)
    return Connection(
        conn_id="c",
        conn_type=draw(CONN_TYPES),
        host=draw(HOSTS),
        login=draw(ODD_TEXT),
        password=draw(ODD_TEXT),
        schema=draw(ODD_TEXT),
        port=draw(st.none() | st.integers(1, 65535)),
        extra=None if extra is None else json.dumps(extra),
    )


@given(connections())
def test_uri_round_trip_keeps_every_field(conn: Connection) -> None:
    parsed = Connection.from_uri("c", conn.get_uri())
    assert parsed.to_dict() == conn.to_dict()


@given(connections())
def test_json_round_trip_keeps_every_field(conn: Connection) -> None:
    assert Connection.from_json(conn.to_json(), "c").to_dict() == conn.to_dict()


@given(ODD_TEXT)
def test_any_password_alone_round_trips(password: str) -> None:
    conn = Connection(conn_id="c", conn_type="mysql", host="h", password=password)
    parsed = Connection.from_uri("c", conn.get_uri())
    assert parsed.password == password
    assert parsed.host == "h"
