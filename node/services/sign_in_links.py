"""Sign-in links for the browser pages: minted by an admin, each signs in once, within minutes.

``POST /v1/local/sign-in-links`` (role ``admin``) names a configured token with a role
that may read the pages; :func:`mint_sign_in_link` answers a fresh random code (256
bits), good for :data:`LIFETIME`; ``GET /ui/sign-in/{code}`` (:func:`redeem_sign_in_link`)
names that token once, and the page starts a session for it (:mod:`node.auth.sessions`):
the token's secret is never needed, nor sent.

The node keeps, per link, only the SHA-256 of its code, beside the token's name and the
expiry, in this process's memory (:attr:`NodeContext.sign_in_links`): nothing reaches
the database, and a restart forgets every link. A code is looked up by a constant-time
compare of its SHA-256 against each one held; a link used, or found expired, is
removed, and every mint or use first drops the expired ones. At most
:data:`MAX_OUTSTANDING` links wait at once. The log says who minted a link for which
token and which token a link signed in (names and expiry, never a token or a code).
The request log shows the path of a link only once it is used, when it is spent.

Both functions run on the event loop (no worker thread), so that the links held are
never read and changed at the same time. Time is the node's clock, passed as ``now``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import NotFound, Unprocessable
from clearinghouse.node.settings import TokenSetting

__all__ = [
    "LIFETIME",
    "MAX_OUTSTANDING",
    "PATH",
    "MintedLink",
    "mint_sign_in_link",
    "redeem_sign_in_link",
]

log = logging.getLogger("clearinghouse.sign_in")

#: How long a link may be used (once).
LIFETIME = timedelta(minutes=10)
#: How many links may wait to be used at once.
MAX_OUTSTANDING = 100
#: A link's path, before its code.
PATH = "/ui/sign-in/"


@dataclass(frozen=True)
class MintedLink:
    """A link just minted: its path (the code included), the token it signs in with and
    that token's role, and until when it may be used."""

    path: str
    token: str
    role: str
    expires_at: datetime


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _drop_expired(ctx: NodeContext, now: datetime) -> None:
    for digest, (_, expires_at) in list(ctx.sign_in_links.items()):
        if expires_at <= now:
            del ctx.sign_in_links[digest]


def _named_token(ctx: NodeContext, name: str, roles: Collection[str]) -> TokenSetting:
    """The configured token ``name`` if its role is one of ``roles``.

    :raises NotFound: no token of that name is configured.
    :raises Unprocessable: its role is not one of ``roles``."""
    named = [t for t in ctx.settings.tokens if t.name == name]
    if not named:
        known = ", ".join(sorted({t.name for t in ctx.settings.tokens}))
        raise NotFound(f"no token named {name!r} is configured on this node (its tokens: {known})")
    if not any(t.role in roles for t in named):
        raise Unprocessable(
            f"token {name!r} has role {named[0].role!r}: a sign-in link is only for a token "
            f"that may read the pages ({', '.join(roles)})"
        )
    return next(t for t in named if t.role in roles)


def mint_sign_in_link(
    ctx: NodeContext,
    name: str,
    *,
    roles: Collection[str],
    minted_by: str,
    now: datetime,
    lifetime: timedelta = LIFETIME,
) -> MintedLink:
    """A new link that signs in once as the token ``name`` until ``now + lifetime``;
    ``minted_by`` names who asked (logged).

    :raises NotFound: no token named ``name`` is configured.
    :raises Unprocessable: its role is not one of ``roles``, or :data:`MAX_OUTSTANDING`
        links wait already."""
    token = _named_token(ctx, name, roles)
    _drop_expired(ctx, now)
    if len(ctx.sign_in_links) >= MAX_OUTSTANDING:
        raise Unprocessable(
            f"{len(ctx.sign_in_links)} sign-in links wait to be used already; "
            f"the oldest expires within {lifetime.total_seconds() / 60:g} minutes"
        )
    code = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    ctx.sign_in_links[_digest(code)] = (token.name, expires_at)
    log.info(
        "sign-in link for token %r (role %s) minted by %s, usable once until %s",
        token.name,
        token.role,
        minted_by,
        expires_at.isoformat(),
    )
    return MintedLink(PATH + code, token.name, token.role, expires_at)


def redeem_sign_in_link(ctx: NodeContext, code: str, *, now: datetime) -> TokenSetting:
    """The token the link of ``code`` signs in as; the link is spent.

    :raises NotFound: no link has this code (never minted, used already, or forgotten by
        a restart), or it expired."""
    digest = _digest(code)
    held = None
    for candidate in list(ctx.sign_in_links):
        if hmac.compare_digest(candidate, digest):
            held = candidate
    entry = ctx.sign_in_links.pop(held) if held is not None else None
    _drop_expired(ctx, now)
    if entry is None:
        raise NotFound("this sign-in link is unknown or was used already: each link signs in once")
    name, expires_at = entry
    if expires_at <= now:
        raise NotFound(
            f"this sign-in link expired at {expires_at.isoformat(timespec='seconds')}: "
            "links may be used within minutes of being made"
        )
    token = next((t for t in ctx.settings.tokens if t.name == name), None)
    if token is None:  # the node's tokens are set at start-up: not while a link waits
        raise NotFound("the token this sign-in link was made for is no longer configured")
    log.info("sign-in link used: signed in as token %r (role %s)", token.name, token.role)
    return token
