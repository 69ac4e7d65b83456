"""Connections: how airflow-sc reaches external systems, with Airflow's URI and JSON forms.

A `Connection` is a frozen value: the secrets cache hands the same object to many callers,
so nobody may change it in place (use `dataclasses.replace`). Parsing and rendering follow
Airflow's rules, so a URI or JSON value that works in an `AIRFLOW_CONN_*` variable works
here unchanged:

- URI: `<conn-type>://[<protocol>://][<login>[:<password>]@]<host>[:<port>][/<schema>][?<query>]`;
  every part is percent-decoded; a `-` in the scheme becomes `_` (`google-cloud-platform`
  -> `google_cloud_platform`) and `postgresql` becomes `postgres`; the query string is the
  extra, unless it holds one `__extra__` parameter whose value is the extra's JSON text.
- JSON: an object with the fields below; `extra` may be an object or its JSON text.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit

from airflow_sc.secrets.errors import ConnectionFormatError

__all__ = ["EXTRA_KEY", "Connection", "normalize_conn_type"]

#: The query parameter whose value is the extra's JSON text (when it is not a flat map).
EXTRA_KEY: Final = "__extra__"

_FIELDS: Final = frozenset(
    {"conn_id", "conn_type", "description", "host", "login", "password", "schema", "port", "extra"}
)


def normalize_conn_type(conn_type: str) -> str:
    """Airflow's spelling of a connection type read from a URI scheme."""
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and how to reach an external system. `password` never shows in `repr`."""

    conn_id: str
    conn_type: str | None = None
    description: str | None = None
    host: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    port: int | None = None
    #: JSON text of an object (Airflow stores the extra as text); read it with `extra_dejson`.
    extra: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.extra:
            _check_extra(self.extra, self.conn_id)

    # -- reading -----------------------------------------------------------------------

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The extra as a dict (`{}` when there is none)."""
        return self.get_extra_dejson()

    def get_extra_dejson(self, *, nested: bool = False) -> dict[str, Any]:
        """The extra as a dict; `nested=True` also decodes values that are JSON text."""
        if not self.extra:
            return {}
        decoded: dict[str, Any] = json.loads(self.extra)
        if nested:
            for key, value in decoded.items():
                if isinstance(value, str):
                    with contextlib.suppress(ValueError):
                        decoded[key] = json.loads(value)
        return decoded

    # -- URI form ----------------------------------------------------------------------

    @classmethod
    def from_uri(cls, conn_id: str, uri: str) -> Connection:
        """Parse Airflow's URI form; raises `ConnectionFormatError` on a malformed URI."""
        return cls(conn_id=conn_id, **_parse_uri(uri))

    def get_uri(self) -> str:
        """Render Airflow's URI form (parses back to an equal connection)."""
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        protocol, host = _split_protocol(self.host)
        if protocol:
            uri += f"{protocol}://"
        authority = ""
        if self.login is not None:
            authority += quote(self.login, safe="")
        if self.password is not None:
            authority += ":" + quote(self.password, safe="")
        if authority:
            uri += authority + "@"
        location = quote(host, safe="") if host else ""
        if self.port:
            # A bare ":port" would be read as part of the scheme; "@" keeps it in the netloc.
            location += f"@:{self.port}" if not location and not authority else f":{self.port}"
        if self.schema:
            location += "/" + quote(self.schema, safe="")
        uri += location
        if self.extra:
            uri += ("?" if self.schema else "/?") + self._extra_query()
        return uri

    def _extra_query(self) -> str:
        extra = self.extra_dejson
        flat = all(isinstance(v, str) for v in extra.values())
        if flat:
            query = urlencode(extra)
            # Only a map that survives the query string unchanged is written as one.
            if query and dict(parse_qsl(query, keep_blank_values=True)) == extra:
                return query
        return urlencode({EXTRA_KEY: self.extra})

    # -- JSON form ---------------------------------------------------------------------

    @classmethod
    def from_json(cls, value: str, conn_id: str) -> Connection:
        """Parse Airflow's JSON form (an object of connection fields)."""
        try:
            fields = json.loads(value)
        except ValueError as exc:
            raise ConnectionFormatError(f"connection {conn_id!r}: invalid JSON: {exc}") from None
        if not isinstance(fields, dict):
            raise ConnectionFormatError(f"connection {conn_id!r}: JSON must be an object")
        return cls.from_dict(conn_id, fields)

    @classmethod
    def from_dict(cls, conn_id: str, fields: Mapping[str, Any]) -> Connection:
        """Build from a mapping of fields (`extra`: dict or JSON text; `port`: int or text)."""
        unknown = set(fields) - _FIELDS
        if unknown:
            raise ConnectionFormatError(
                f"connection {conn_id!r}: unknown field(s) {sorted(unknown)}; "
                f"allowed: {sorted(_FIELDS)}"
            )
        if fields.get("conn_id") not in (None, conn_id):
            raise ConnectionFormatError(
                f"connection {conn_id!r}: the value names another conn_id {fields['conn_id']!r}"
            )
        values = {k: v for k, v in fields.items() if k != "conn_id"}
        extra = values.pop("extra", None)
        if extra and not isinstance(extra, str):
            extra = json.dumps(extra)
        conn_type = values.pop("conn_type", None)
        port = values.pop("port", None)
        return cls(
            conn_id=conn_id,
            conn_type=normalize_conn_type(conn_type) if conn_type else conn_type,
            port=_parse_port(port, conn_id) if port else None,
            extra=extra or None,
            **values,
        )

    @classmethod
    def deserialize(cls, conn_id: str, value: str) -> Connection:
        """A backend's stored value: JSON when it starts with `{`, otherwise a URI."""
        value = value.strip()
        if value.startswith("{"):
            return cls.from_json(value, conn_id)
        return cls.from_uri(conn_id, value)

    def to_dict(self, *, prune_empty: bool = False) -> dict[str, Any]:
        """The fields as a dict, with `extra` decoded (for JSON/YAML export and the API)."""
        out: dict[str, Any] = {
            "conn_id": self.conn_id,
            "conn_type": self.conn_type,
            "description": self.description,
            "host": self.host,
            "login": self.login,
            "password": self.password,
            "schema": self.schema,
            "port": self.port,
        }
        if self.extra:
            out["extra"] = self.extra_dejson
        if prune_empty:
            out = {k: v for k, v in out.items() if v is not None and v != ""}
        return out

    def to_json(self) -> str:
        """Airflow's JSON form: the non-empty fields but `conn_id`."""
        out = self.to_dict(prune_empty=True)
        out.pop("conn_id", None)
        return json.dumps(out)

    #: Airflow's name for `to_json`.
    as_json = to_json


def _check_extra(extra: str, conn_id: str) -> None:
    try:
        decoded = json.loads(extra)
    except ValueError:
        raise ConnectionFormatError(f"connection {conn_id!r}: extra is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise ConnectionFormatError(f"connection {conn_id!r}: extra must be a JSON object")


def _parse_port(port: object, conn_id: str) -> int:
    try:
        if isinstance(port, int | str):
            return int(port)
    except ValueError:
        pass
    raise ConnectionFormatError(f"connection {conn_id!r}: port must be an integer, got {port!r}")


def _split_protocol(host: str | None) -> tuple[str | None, str | None]:
    if host and "://" in host:
        protocol, rest = host.split("://", 1)
        return protocol, rest
    return None, host


def _parse_uri(uri: str) -> dict[str, Any]:
    schemes = uri.count("://")
    if schemes > 2:
        raise ConnectionFormatError(f"invalid connection URI: {uri!r} (too many '://')")
    # Two schemes: the second is part of the host (`http://` in `my-conn://http://host`).
    with_protocol = schemes == 2
    scheme = urlsplit(uri).scheme
    head = f"{scheme}://"
    # urlsplit lower-cases the scheme; the URI may spell it in capitals.
    if schemes == 0 or not scheme or uri[: len(head)].lower() != head:
        raise ConnectionFormatError(f"invalid connection URI: {uri!r} (expected 'type://...')")
    rest = uri[len(head) :] if with_protocol else "//" + uri[len(head) :]
    if with_protocol:
        protocol_part = rest.split("://", 1)[0]
        if "@" in protocol_part or ":" in protocol_part:
            raise ConnectionFormatError(f"invalid connection URI: {uri!r}")
    parts = urlsplit(rest)
    try:
        port = parts.port
    except ValueError as exc:
        raise ConnectionFormatError(f"invalid connection URI: {uri!r} ({exc})") from None
    host = _hostname(parts)
    if host and with_protocol:
        host = f"{parts.scheme}://{host}"
    schema = parts.path[1:]
    fields: dict[str, Any] = {
        "conn_type": normalize_conn_type(scheme),
        "host": host,
        "schema": unquote(schema) if schema else schema,
        "login": unquote(parts.username) if parts.username else parts.username,
        "password": unquote(parts.password) if parts.password else parts.password,
        "port": port,
    }
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        fields["extra"] = query[EXTRA_KEY] if EXTRA_KEY in query else json.dumps(query)
    return fields


def _hostname(parts: SplitResult) -> str:
    # `hostname` lower-cases and stops at the first "/" of a decoded host; a host that
    # decodes to something with "/" in it is taken from the raw netloc instead.
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = parts.netloc
        if "@" in hostname:
            hostname = hostname.rsplit("@", 1)[1]
        if ":" in hostname:
            hostname = hostname.split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname
