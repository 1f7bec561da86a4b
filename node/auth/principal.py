"""The one a request acts for: a configured token (a machine client, or a person
signed in with a token) or a person signed in through the OpenID Connect provider.

Audit entries name them by :attr:`Principal.actor`: ``token:<name>`` or
``person:<pseudonymous id>`` (:mod:`node.auth.people`); a person's name stays on
this node (:attr:`Principal.display_name`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clearinghouse.node.settings import ROLES, TokenSetting

__all__ = ["Principal", "highest_role", "token_principal"]

Kind = Literal["token", "person"]


def highest_role(roles: frozenset[str]) -> str:
    """The most powerful of ``roles`` (``ROLES`` is ordered from least to most)."""
    held = [r for r in ROLES if r in roles]
    return held[-1] if held else "none"


@dataclass(frozen=True)
class Principal:
    kind: Kind
    #: the token's name, or the person's pseudonymous id
    id: str
    roles: frozenset[str]
    #: the token's name, or the person's name as the provider gave it (this node only)
    display_name: str

    @property
    def actor(self) -> str:
        """What audit entries name: ``token:<name>`` or ``person:<id>``."""
        return f"{self.kind}:{self.id}"

    @property
    def name(self) -> str:
        """A stable scope for what a principal owns (its ``Idempotency-Key`` values): a
        token's name as before, ``person:<id>`` for a person."""
        return self.id if self.kind == "token" else self.actor

    @property
    def role(self) -> str:
        return highest_role(self.roles)

    def has(self, *roles: str) -> bool:
        """Whether this principal has one of ``roles``; ``admin`` has every role."""
        return "admin" in self.roles or any(r in self.roles for r in roles)

    def describe(self) -> str:
        """How refusals name this principal: ``token 'ops' (role analyst)``."""
        held = ", ".join(r for r in ROLES if r in self.roles) or "none"
        if self.kind == "token":
            return f"token {self.id!r} (role {held})"
        return f"{self.display_name} ({self.actor}, roles {held})"


def token_principal(token: TokenSetting) -> Principal:
    return Principal("token", token.name, frozenset({token.role}), token.name)
