"""The sign-in links a node holds (:mod:`node.services.sign_in_links`), called directly on
a node opened in this process, at times the test chooses: how many may wait, when they
are dropped, and that a wrong code spends nothing. The HTTP side is in
``tests/node/api/test_sign_in_links.py``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from clearinghouse.node.api.ui_session import UI_ROLES
from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import NotFound, Unprocessable
from clearinghouse.node.localfed import NodeHandle
from clearinghouse.node.services.sign_in_links import (
    LIFETIME,
    MAX_OUTSTANDING,
    PATH,
    mint_sign_in_link,
    redeem_sign_in_link,
)
from tests.nodes import built_federation, opened_node
from tests.support import NOW


@pytest.fixture
def mission(tmp_path: Path) -> Iterator[tuple[NodeHandle, NodeContext]]:
    fed = built_federation(tmp_path, ("mission", "dpa"))
    handle = fed.nodes["mission"]
    with opened_node(handle) as ctx:
        yield handle, ctx


def mint(handle: NodeHandle, ctx: NodeContext, now: datetime = NOW) -> str:
    """A link for the analyst token, minted at ``now``; its code."""
    link = mint_sign_in_link(ctx, "analyst", roles=UI_ROLES, minted_by="admin", now=now)
    return link.path.removeprefix(PATH)


def test_at_most_so_many_links_wait_and_expired_ones_make_room(
    mission: tuple[NodeHandle, NodeContext],
) -> None:
    handle, ctx = mission
    for _ in range(MAX_OUTSTANDING):
        mint(handle, ctx)
    with pytest.raises(Unprocessable, match="wait to be used already"):
        mint(handle, ctx)
    mint(handle, ctx, NOW + LIFETIME)  # all the others expired then: dropped
    assert len(ctx.sign_in_links) == 1


def test_a_wrong_code_spends_no_link(mission: tuple[NodeHandle, NodeContext]) -> None:
    handle, ctx = mission
    code = mint(handle, ctx)
    [(held, _)] = ctx.sign_in_links.values()
    assert held == "analyst"  # the token's name, never its secret
    assert handle.tokens["analyst"] not in str(ctx.sign_in_links)
    for wrong in ("", code[:-1], code + "A", code.upper()):
        with pytest.raises(NotFound, match="unknown or was used already"):
            redeem_sign_in_link(ctx, wrong, now=NOW)
    token = redeem_sign_in_link(ctx, code, now=NOW)
    assert (token.name, token.role) == ("analyst", "analyst")
    assert ctx.sign_in_links == {}


def test_a_link_is_good_until_just_before_its_expiry(
    mission: tuple[NodeHandle, NodeContext],
) -> None:
    handle, ctx = mission
    code, late = mint(handle, ctx), mint(handle, ctx)
    redeem_sign_in_link(ctx, code, now=NOW + LIFETIME - LIFETIME / 600)
    with pytest.raises(NotFound, match="expired at"):
        redeem_sign_in_link(ctx, late, now=NOW + LIFETIME)
    assert ctx.sign_in_links == {}
