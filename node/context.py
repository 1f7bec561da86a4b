"""Everything a running node holds: settings, database, keys, manifest, metrics.

Built once by the app's lifespan (:func:`open_node`) and kept on ``app.state``;
several nodes can live in one process (tests), since nothing here is global.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from clearinghouse.analyzers.base import Analyzer
from clearinghouse.analyzers.registry import AnalyzerNotFound, code_digest, load
from clearinghouse.analyzers.state import State
from clearinghouse.node.clock import Clock
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.keyfiles import passphrase_from_env, read_pseudonym_key
from clearinghouse.node.keyring import SigningKey, load_keys, select_signing_key
from clearinghouse.node.metrics import NodeMetrics
from clearinghouse.node.settings import Settings, TokenSetting
from clearinghouse.node.storage import analysis, outbox
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.protocol.authorisation import Authorisation
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.manifest import AnalyzerDeclaration, Manifest, Participant, signing_key
from clearinghouse.protocol.pseudonyms import PseudonymKey

__all__ = ["NodeContext", "load_declared_analyzer", "open_node"]

log = logging.getLogger("clearinghouse.node")


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
    settings: Settings
    clock: Clock
    engine: Engine
    manifest: Manifest
    #: the key this node signs with now, and every private key it holds (by kid)
    signing: SigningKey
    pseudonym_key: PseudonymKey | None
    metrics: NodeMetrics
    #: wakes the delivery workers when views are queued (from any thread)
    outbox_signal: Waker = field(default_factory=lambda: Waker())
    #: when each peer last pushed to us (monotonic seconds); catch-up skips busy peers
    last_push: dict[str, float] = field(default_factory=dict)
    #: this participant's declared analyzer, its declaration and its state (if it has one)
    analyzer: Analyzer | None = None
    analyzer_declaration: AnalyzerDeclaration | None = None
    analyzer_state: State | None = None
    #: wakes the analysis worker when packets are queued for analysis
    analysis_signal: Waker = field(default_factory=lambda: Waker())
    #: held while the analyzer's state is read or changed (worker thread vs API threads)
    analysis_lock: threading.Lock = field(default_factory=threading.Lock)
    private_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
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

    @property
    def key(self) -> Ed25519PrivateKey:
        """The signing key now; read :attr:`signing` once where key and kid go together."""
        return self.signing.key

    @property
    def kid(self) -> str:
        return self.signing.kid

    def signing_pair(self) -> tuple[Ed25519PrivateKey, str]:
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

    def outbox_depth(self) -> dict[str, int]:
        with transaction(self.engine) as session:
            return outbox.pending_by_recipient(session)


def open_node(settings: Settings, clock: Clock) -> NodeContext:
    """Load and check everything a node needs; raise with a message naming the setting."""
    from clearinghouse.node.services.authorisations import (
        refresh_active,  # services build on context
    )
    from clearinghouse.node.services.manifests import startup_manifest
    from clearinghouse.node.services.trust_events import record_trust_state

    try:
        document = settings.manifest_file.read_bytes()
    except OSError as exc:
        raise ServiceUnavailable(f"manifest_file {settings.manifest_file}: {exc.strerror}") from exc
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    now = clock.now()
    try:
        manifest, since = startup_manifest(engine, document, now, participant=settings.participant)
    except ServiceUnavailable:
        engine.dispose()  # a refused start keeps no connection open
        raise
    try:
        me = manifest.participant(settings.participant)
        private_keys, problems = load_keys(
            settings.key_file, settings.participant, passphrase_from_env()
        )
        signing = select_signing_key(manifest, settings.participant, private_keys, now)
        pseudonym_key = (
            read_pseudonym_key(settings.pseudonym_key_file) if settings.pseudonym_key_file else None
        )
    except ProtocolError as exc:
        raise ServiceUnavailable(f"participant/key_file/pseudonym_key_file: {exc}") from exc
    for problem in problems:
        log.warning("key file skipped: %s", problem)
    analyzer, state = None, None
    if me.analyzer is not None:
        analyzer = load_declared_analyzer(me.analyzer)
        with transaction(engine) as session:
            state = State(analysis.load_state(session, analyzer.id))
    context = NodeContext(
        settings=settings,
        clock=clock,
        engine=engine,
        manifest=manifest,
        signing=signing,
        pseudonym_key=pseudonym_key,
        metrics=NodeMetrics(lambda: context.outbox_depth()),
        analyzer=analyzer,
        analyzer_declaration=me.analyzer,
        analyzer_state=state,
        private_keys=private_keys,
        manifest_since=since,
    )
    context.metrics.manifest_serial.set(manifest.serial)
    record_trust_state(context)
    refresh_active(context)
    return context


def load_declared_analyzer(declaration: AnalyzerDeclaration) -> Analyzer:
    """The installed analyzer, if it is exactly what the manifest declares; else refuse."""
    try:
        analyzer = load(declaration.id)
    except AnalyzerNotFound as exc:
        raise ServiceUnavailable(f"manifest declares analyzer {declaration.id}: {exc}") from exc
    if analyzer.version != declaration.version:
        raise ServiceUnavailable(
            f"installed analyzer {declaration.id} is version {analyzer.version}, "
            f"the manifest declares {declaration.version}"
        )
    digest = code_digest(analyzer)
    if digest != declaration.sha256:
        raise ServiceUnavailable(
            f"installed analyzer {declaration.id} {analyzer.version} has code digest {digest}, "
            f"the manifest declares {declaration.sha256}; refusing to run other code than declared"
        )
    return analyzer
