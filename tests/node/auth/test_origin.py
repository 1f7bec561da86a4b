"""The Origin check of the pages' forms, on requests as Starlette builds them."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from clearinghouse.node.auth.origin import require_same_origin
from clearinghouse.node.errors import Forbidden

PUBLIC = "https://dpa.example.org"


def request(host: str, scheme: str = "http", **headers: str) -> Request:
    raw = [(b"host", host.encode())] + [(k.encode(), v.encode()) for k, v in headers.items()]
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": scheme,
            "path": "/ui/login",
            "headers": raw,
            "query_string": b"",
        }
    )


@pytest.mark.parametrize(
    ("host", "headers"),
    [
        ("127.0.0.1:8100", {"origin": "http://127.0.0.1:8100"}),
        ("dpa.example.org", {"origin": "https://dpa.example.org"}),  # behind a TLS proxy
        ("internal:8100", {"origin": "https://dpa.example.org"}),  # the public URL itself
        ("127.0.0.1:8100", {"referer": "http://127.0.0.1:8100/ui/login"}),
        ("127.0.0.1:8100", {"origin": "null", "referer": "http://127.0.0.1:8100/ui/x"}),
    ],
)
def test_the_nodes_own_pages_are_taken(host: str, headers: dict[str, str]) -> None:
    require_same_origin(request(host, **headers), PUBLIC)


@pytest.mark.parametrize(
    ("host", "headers", "said"),
    [
        ("127.0.0.1:8100", {"origin": "http://127.0.0.1:8101"}, "not this node's pages"),
        ("127.0.0.1:8100", {"origin": "https://evil.example"}, "not this node's pages"),
        ("127.0.0.1:8100", {"origin": "http://127.0.0.1:8100.evil.example"}, "not this node"),
        ("127.0.0.1:8100", {"referer": "https://evil.example/127.0.0.1:8100"}, "not this node"),
        ("127.0.0.1:8100", {}, "names no Origin or Referer"),
        ("127.0.0.1:8100", {"origin": "null"}, "names no Origin or Referer"),
    ],
)
def test_any_other_origin_is_refused(host: str, headers: dict[str, str], said: str) -> None:
    with pytest.raises(Forbidden, match=said):
        require_same_origin(request(host, **headers), PUBLIC)
