"""Run an analyzer offline on records, as a recipient's views would show them.

For analyzer authors and for ``clearinghouse analyze``: each record is issued as
a real packet (ephemeral keys, a fixed offline pseudonymisation key so that
pseudonyms are stable from run to run), cut to the view the analyzer's
participant is granted under a federation config's policy, verified, and handed
to the analyzer. The same records in the same order give byte-identical findings,
and the same records in any order the same final picture (:func:`final_picture`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clearinghouse.analyzers.base import Analyzer, Finding, View
from clearinghouse.analyzers.converge import current_findings
from clearinghouse.analyzers.state import State
from clearinghouse.protocol.keys import generate_private_key, public_jwk
from clearinghouse.protocol.manifest import Manifest, build_manifest
from clearinghouse.protocol.packet import issue_packet, recipient_view, verify_view

__all__ = ["OfflineRun", "Picture", "final_picture", "offline_manifest", "view_of"]

OFFLINE_PSEUDONYM_KEY = hashlib.sha256(b"clearinghouse offline analysis").digest()
OFFLINE_PSEUDONYM_EPOCH = "offline"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def offline_manifest(config: Mapping[str, Any]) -> tuple[Manifest, dict[str, Any]]:
    """An (unsigned) manifest from a federation config, with fresh keys for everyone.

    Analyzer declarations are left out: offline, nothing checks results against them.
    """
    participants = [{k: v for k, v in p.items() if k != "analyzer"} for p in config["participants"]]
    config = {**config, "participants": participants}
    keys = {p["id"]: generate_private_key() for p in participants}
    manifest = build_manifest(
        config, {p: [public_jwk(k)] for p, k in keys.items()}, issued_at=_EPOCH
    )
    return manifest, keys


def view_of(verified: Any) -> View:
    return View(
        schema=verified.sch,
        issuer=verified.iss,
        jti=verified.jti,
        digest=verified.ref.digest,
        issued_at=verified.iat,
        hc=verified.hc,
        claims=dict(verified.claims),
    )


@dataclass
class OfflineRun:
    """An analyzer, the participant whose views it sees, and its state."""

    analyzer: Analyzer
    manifest: Manifest
    keys: dict[str, Any]
    participant: str
    issuer: str
    state: State

    @classmethod
    def start(
        cls,
        analyzer: Analyzer,
        config: Mapping[str, Any],
        *,
        participant: str | None = None,
        issuer: str | None = None,
    ) -> OfflineRun:
        """``participant`` defaults to the prefix of the analyzer id (``mission.x`` -> mission);
        ``issuer`` to another participant (the records' originator)."""
        manifest, keys = offline_manifest(config)
        participant = participant or analyzer.id.split(".", 1)[0]
        others = [p for p in manifest.participant_ids if p != participant]
        return cls(analyzer, manifest, keys, participant, issuer or others[0], State())

    def view(self, schema: str, record: Mapping[str, Any], now: datetime = _EPOCH) -> View:
        """The view of ``record`` that this participant would receive, verified."""
        packet = issue_packet(
            record,
            schema=schema,
            issuer=self.issuer,
            key=self.keys[self.issuer],
            kid=public_jwk(self.keys[self.issuer])["kid"],
            now=now,
            pseudonym_key=OFFLINE_PSEUDONYM_KEY,
            pseudonym_epoch=OFFLINE_PSEUDONYM_EPOCH,
        )
        if self.issuer == self.participant:
            raw = packet.sd_jwt
            recipient = None
        else:
            raw = recipient_view(packet.sd_jwt, self.manifest, self.participant)
            recipient = self.participant
        return view_of(verify_view(raw, self.manifest, recipient=recipient, now=now))

    def run(self, schema: str, records: Iterable[Mapping[str, Any]]) -> Iterator[list[Finding]]:
        """Findings per record, in order, updating :attr:`state`."""
        for record in records:
            findings = self.analyzer.analyze(self.view(schema, record), self.state)
            self.state.commit()
            yield findings

    def run_timed(
        self, schema: str, records: Iterable[Mapping[str, Any]]
    ) -> tuple[list[list[Finding]], float]:
        """Findings per record, and the seconds spent inside ``analyze`` alone (issuing
        and verifying the packets is left out of the time)."""
        per_record, spent = [], 0.0
        for record in records:
            view = self.view(schema, record)
            started = time.perf_counter()
            per_record.append(self.analyzer.analyze(view, self.state))
            spent += time.perf_counter() - started
            self.state.commit()
        return per_record, spent

    def views(self, schema: str, records: Iterable[Mapping[str, Any]]) -> list[View]:
        """The views of ``records``, issued and verified once (to analyse in many orders)."""
        return [self.view(schema, record) for record in records]

    def summary(self) -> dict[str, Any]:
        return self.analyzer.summary(self.state)

    def findings(self) -> list[dict[str, Any]]:
        """The findings that hold now (see :func:`analyzers.converge.current_findings`)."""
        return current_findings(self.state)


@dataclass(frozen=True)
class Picture:
    """What an analyzer holds after a set of views: the findings that hold, the summary,
    and everything it reported on the way (new, changed and withdrawn findings)."""

    findings: list[dict[str, Any]]
    summary: dict[str, Any]
    reported: int
    withdrawn: int


def final_picture(analyzer: Analyzer, views: Sequence[View]) -> Picture:
    """Analyse ``views`` in the given order from an empty state; the picture at the end.

    For a converging analyzer the :attr:`Picture.findings` and :attr:`Picture.summary`
    are the same for every order of the same views (the tests and ``bench analysis``
    check this); ``reported`` and ``withdrawn`` count what it said on the way.
    """
    state = State()
    reported = withdrawn = 0
    for view in views:
        findings = analyzer.analyze(view, state)
        state.commit()
        reported += len(findings)
        withdrawn += sum(1 for f in findings if f.status is not None)
    return Picture(current_findings(state), analyzer.summary(state), reported, withdrawn)
