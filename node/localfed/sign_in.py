"""A one-click sign-in to a local node's pages, for the demo's newcomer.

:func:`sign_in_link` asks the node (with its admin token, which the federation's folder
holds) for a single-use link that signs a browser in as the token of ``role``
(``POST /v1/local/sign-in-links``, :mod:`node.api.routes.sign_in_links`), and gives the
full URL and until when it may be used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from clearinghouse.node.localfed.federation import NodeHandle
from clearinghouse.node.transport.local_api import AnswerMalformed, NodeRefused, post_document

__all__ = ["SIGN_IN_LINKS", "SignInLink", "sign_in_link"]

SIGN_IN_LINKS = "/v1/local/sign-in-links"


@dataclass(frozen=True)
class SignInLink:
    """A link that signs in once, as the token ``token``, until ``expires_at``."""

    url: str
    token: str
    expires_at: datetime


def sign_in_link(node: NodeHandle, role: str = "analyst") -> SignInLink:
    """A fresh single-use link to ``node``'s pages, signed in with its token of ``role``.

    Raises :class:`~node.transport.local_api.NodeUnreachable`, ``NodeRefused`` (the node
    answered other than 201) or ``AnswerMalformed``."""
    body = json.dumps({"name": role}).encode()
    answer = post_document(node.url, SIGN_IN_LINKS, body, token=node.tokens["admin"])
    where = f"{node.url}{SIGN_IN_LINKS}"
    if answer.status != 201:
        document = answer.document if isinstance(answer.document, dict) else {}
        detail = str(document.get("detail", answer.text[:200]))
        raise NodeRefused(
            f"{where}: HTTP {answer.status}: {detail}", status=answer.status, detail=detail
        )
    document = answer.document
    try:
        return SignInLink(
            url=node.url + str(document["path"]),
            token=str(document["token"]),
            expires_at=datetime.fromisoformat(str(document["expires_at"])),
        )
    except (TypeError, KeyError, ValueError) as exc:
        raise AnswerMalformed(f"{where}: not a sign-in link: {answer.text[:200]}") from exc
