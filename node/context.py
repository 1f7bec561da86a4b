"""Everything a running node holds: settings, database, keys, manifest, metrics.

Data only: built once by :func:`node.startup.open_node` (from the app's lifespan, or by
``clearinghouse run`` before it listens) and kept on ``app.state``; several nodes can
live in one process (tests), since nothing here is global. The services take a
:class:`NodeContext`; nothing here calls them (start-up, which does, sits above them).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from clearinghouse.analyzers.base import Analyzer
from clearinghouse.analyzers.state import State
from clearinghouse.node.auth.oidc import RelyingParty
from clearinghouse.node.clock import Clock
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.keyring import KeySource, SigningKey
from clearinghouse.node.metrics import NodeMetrics
from clearinghouse.node.settings import Settings, TokenSetting
from clearinghouse.protocol.authorisation import Authorisation
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.keys import Signer
from clearinghouse.protocol.manifest import AnalyzerDeclaration, Manifest, Participant, signing_key
from clearinghouse.protocol.pseudonyms import PseudonymKey

__all__ = ["NodeContext", "Waker"]


class Waker:
    """Wake every subscribed asyncio task; callable from any thread."""

    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self) -> asyncio.Event:
        """An event set on every :meth:`set`; call from inside the event loop."""
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._events.append(event)
        return event

    def set(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for event in self._events:
            loop.call_soon_threadsafe(event.set)


@dataclass
class NodeContext:
    """One running node: what it was configured with, holds and counts (see module doc).

    The manifest, signing key and authorisations change while the node runs (under
    :attr:`trust_lock`); the rest is set once at start-up.
    """

    settings: Settings
    clock: Clock
    engine: Engine
    manifest: Manifest
    #: the key this node signs with now, and every private key it holds (by kid)
    signing: SigningKey
    #: where the private keys are held (files or a PKCS#11 token), read again on rotation
    key_source: KeySource
    pseudonym_key: PseudonymKey | None
    metrics: NodeMetrics
    #: wakes the delivery workers when views are queued (from any thread)
    outbox_signal: Waker = field(default_factory=lambda: Waker())
    #: when each peer last pushed to us (monotonic seconds); catch-up skips busy peers
    last_push: dict[str, float] = field(default_factory=dict)
    #: when this node's latest results fell due for delivery (analyze.results_due)
    results_last_due: datetime | None = None
    #: this participant's declared analyzer, its declaration and its state (if it has one)
    analyzer: Analyzer | None = None
    analyzer_declaration: AnalyzerDeclaration | None = None
    analyzer_state: State | None = None
    #: wakes the analysis worker when packets are queued for analysis
    analysis_signal: Waker = field(default_factory=lambda: Waker())
    #: held while the analyzer's state is read or changed (worker thread vs API threads)
    analysis_lock: threading.Lock = field(default_factory=threading.Lock)
    private_keys: dict[str, Signer] = field(default_factory=dict)
    #: when the manifest in force was accepted (views queued before may need narrowing)
    manifest_since: datetime | None = None
    #: wakes the per-peer workers and the manifest spreader when the manifest changes
    manifest_signal: Waker = field(default_factory=lambda: Waker())
    #: held while the manifest or the signing key is switched
    trust_lock: threading.Lock = field(default_factory=threading.Lock)
    #: the oversight authorisations in force that this node took on (as originator)
    authorisations: tuple[Authorisation, ...] = ()
    #: stored manifests (serial, SHA-256 of the row) found not to follow from the one in
    #: force: reported once (log, metric, audit entry), never switched to
    broken_manifests: set[tuple[int, str]] = field(default_factory=set)
    #: the highest manifest serial each peer is known to hold (from the manifest exchange)
    peer_serials: dict[str, int] = field(default_factory=dict)
    #: a newer key the node may sign with but holds back until every peer knows it
    #: (its kid, and since when, by :attr:`clock`)
    key_held_back: tuple[str, datetime] | None = None
    #: the sign-in links not yet used (:mod:`node.services.sign_in_links`), in this
    #: process's memory only: SHA-256 (hex) of a link's code -> (the name of the token it
    #: signs in as, its expiry by :attr:`clock`)
    sign_in_links: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    #: this node at its OpenID Connect provider, if ``settings.oidc`` configures one
    oidc: RelyingParty | None = None
    #: the key of its people's pseudonyms (:mod:`node.auth.people`), read on first use
    person_key: bytes | None = None
    #: the people whose directory entry this process wrote or read, and the name it holds
    #: (a bearer JWT writes it once, and usually carries no name of its own)
    people_seen: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> Signer:
        """The signing key now; read :attr:`signing` once where key and kid go together."""
        return self.signing.key

    @property
    def kid(self) -> str:
        return self.signing.kid

    def signing_pair(self) -> tuple[Signer, str]:
        """Key and kid of one moment (a rotation between two reads cannot split them)."""
        signing = self.signing
        return signing.key, signing.kid

    def wants_analysis(self, schema: str) -> bool:
        """Whether this node's analyzer takes packets of ``schema`` (results never, unless
        the analyzer says it consumes them: no broadcast storms)."""
        return self.analyzer is not None and schema in self.analyzer.schemas

    @property
    def participant(self) -> str:
        return self.settings.participant

    @property
    def me(self) -> Participant:
        return self.manifest.participant(self.participant)

    @property
    def public_url(self) -> str:
        return (self.settings.public_url or self.me.base_url).rstrip("/")

    @property
    def peers(self) -> list[Participant]:
        return [p for p in self.manifest.participants if p.id != self.participant]

    @property
    def signature_window(self) -> timedelta:
        return timedelta(seconds=self.settings.signature_window_s)

    def token(self, bearer: str) -> TokenSetting | None:
        """The configured token whose SHA-256 matches ``bearer`` (constant-time compare)."""
        digest = hashlib.sha256(bearer.encode()).hexdigest()
        found = None
        for token in self.settings.tokens:
            if hmac.compare_digest(token.sha256, digest):
                found = token
        return found

    def check_ready(self) -> None:
        """Raise :class:`ServiceUnavailable` unless database, manifest and key are usable."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means: not ready
            raise ServiceUnavailable(f"database unreachable: {type(exc).__name__}") from exc
        try:
            self.manifest.participant(self.participant)
        except ProtocolError as exc:
            raise ServiceUnavailable(f"manifest serial {self.manifest.serial}: {exc}") from exc
        try:
            signing_key(self.manifest, self.participant, self.kid, self.clock.now())
        except ProtocolError as exc:
            raise ServiceUnavailable(f"this node may not sign now: {exc}") from exc
