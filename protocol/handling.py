"""Handling codes: what a recipient may do with a packet, checked where it arrives.

Each packet names its handling code in the signed, always-visible claim ``hc``
(Europol-style, :data:`protocol.packet.HANDLING_CODES`):

* H0: no restriction;
* H1: not to be used in judicial proceedings without the originator's consent;
* H2: no onward dissemination: only the recipients its issuer sent it to hold it;
  a recipient never relays it, and a node refuses an H2 view that reaches it from
  anyone but its issuer;
* H3: another restriction, stated in the signed free text ``hcr`` and shown
  wherever the packet is shown.
"""

from __future__ import annotations

from clearinghouse.protocol.errors import HandlingViolation

__all__ = ["RESTRICTED", "check_hop", "check_relay", "may_relay"]

#: Codes that restrict use: items derived from them are marked wherever shown.
RESTRICTED = frozenset({"H1", "H2", "H3"})


def may_relay(hc: str) -> bool:
    """Whether a recipient may pass a view of a packet with code ``hc`` onward."""
    return hc != "H2"


def check_relay(hc: str, jti: str, issuer: str) -> None:
    """Refuse relaying a packet whose handling code forbids onward dissemination."""
    if not may_relay(hc):
        raise HandlingViolation(
            f"packet {jti} of {issuer!r} is H2 (no onward dissemination): only {issuer!r} "
            "sends it, and only to the recipients it chose"
        )


def check_hop(hc: str, jti: str, issuer: str, sender: str) -> None:
    """Refuse a view that ``sender`` passed on although its code forbids it."""
    if sender != issuer and not may_relay(hc):
        raise HandlingViolation(
            f"packet {jti} of {issuer!r} is H2 (no onward dissemination), but {sender!r} relayed it"
        )
