"""Handling codes (``protocol.handling``): who may pass a packet on, and which hop is refused."""

from __future__ import annotations

import pytest

from clearinghouse.protocol.errors import HandlingViolation, PacketError, ProtocolError
from clearinghouse.protocol.handling import RESTRICTED, check_hop, check_relay, may_relay
from clearinghouse.protocol.packet import HANDLING_CODES

JTI = "01a21293-b600-725b-87e3-3999c56e59a7"
RELAYABLE = ("H0", "H1", "H3")


def test_only_h2_forbids_onward_dissemination() -> None:
    assert {hc: may_relay(hc) for hc in HANDLING_CODES} == {
        "H0": True,
        "H1": True,
        "H2": False,
        "H3": True,
    }
    assert RESTRICTED == frozenset({"H1", "H2", "H3"})
    assert set(RESTRICTED) < set(HANDLING_CODES)


def test_check_relay_refuses_h2_naming_the_packet_and_its_issuer() -> None:
    for hc in RELAYABLE:
        assert check_relay(hc, JTI, "mission") is None
    with pytest.raises(HandlingViolation) as caught:
        check_relay("H2", JTI, "mission")
    assert caught.value.code == "handling-violation"
    assert caught.value.message == (
        f"packet {JTI} of 'mission' is H2 (no onward dissemination): only 'mission' sends it, "
        "and only to the recipients it chose"
    )
    assert isinstance(caught.value, PacketError) and isinstance(caught.value, ProtocolError)


def test_check_hop_refuses_an_h2_view_from_anyone_but_its_issuer() -> None:
    assert check_hop("H2", JTI, "mission", "mission") is None  # straight from its issuer
    for hc in RELAYABLE:
        assert check_hop(hc, JTI, "mission", "unodc") is None
    with pytest.raises(HandlingViolation) as caught:
        check_hop("H2", JTI, "mission", "unodc")
    assert caught.value.message == (
        f"packet {JTI} of 'mission' is H2 (no onward dissemination), but 'unodc' relayed it"
    )
