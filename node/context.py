"""Everything a running node holds: settings, database, keys, manifest, metrics.

Built once by the app's lifespan (:func:`open_node`) and kept on ``app.state``;
several nodes can live in one process (tests), since nothing here is global.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from analyzers.base import Analyzer
from analyzers.registry import AnalyzerNotFound, code_digest, load
from analyzers.state import State
from node.clock import Clock
from node.errors import ServiceUnavailable
from node.keyfiles import passphrase_from_env, read_private_key, read_pseudonym_key
from node.metrics import NodeMetrics
from node.settings import Settings, TokenSetting
from node.storage import analysis, outbox
from node.storage.db import make_engine, transaction
from node.storage.migrate import upgrade
from protocol.errors import ProtocolError
from protocol.keys import public_jwk
from protocol.manifest import (
    AnalyzerDeclaration,
    Manifest,
    Participant,
    parse_manifest,
    verify_manifest,
)

__all__ = ["NodeContext", "load_declared_analyzer", "open_node"]


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
    key: Ed25519PrivateKey
    kid: str
    pseudonym_key: bytes | None
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
            verify_manifest(self.manifest, now=self.clock.now())
        except ProtocolError as exc:
            raise ServiceUnavailable(f"manifest no longer valid: {exc}") from exc
        if self.kid not in {k.kid for k in self.me.keys}:
            raise ServiceUnavailable("signing key is not in the manifest")

    def outbox_depth(self) -> dict[str, int]:
        with transaction(self.engine) as session:
            return outbox.pending_by_recipient(session)


def open_node(settings: Settings, clock: Clock) -> NodeContext:
    """Load and check everything a node needs; raise with a message naming the setting."""
    try:
        manifest = verify_manifest(
            parse_manifest(settings.manifest_file.read_bytes()), now=clock.now()
        )
    except OSError as exc:
        raise ServiceUnavailable(f"manifest_file {settings.manifest_file}: {exc.strerror}") from exc
    except ProtocolError as exc:
        raise ServiceUnavailable(f"manifest_file {settings.manifest_file}: {exc}") from exc
    try:
        me = manifest.participant(settings.participant)
        key = read_private_key(settings.key_file, passphrase_from_env())
        pseudonym_key = (
            read_pseudonym_key(settings.pseudonym_key_file) if settings.pseudonym_key_file else None
        )
    except ProtocolError as exc:
        raise ServiceUnavailable(f"participant/key_file/pseudonym_key_file: {exc}") from exc
    kid = public_jwk(key)["kid"]
    if kid not in {k.kid for k in me.keys}:
        raise ServiceUnavailable(
            f"key_file {settings.key_file} holds key {kid}, which the manifest does not list "
            f"for {settings.participant!r}"
        )
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
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
        key=key,
        kid=kid,
        pseudonym_key=pseudonym_key,
        metrics=NodeMetrics(lambda: context.outbox_depth()),
        analyzer=analyzer,
        analyzer_declaration=me.analyzer,
        analyzer_state=state,
    )
    from node.services.trust_events import record_trust_state  # services build on context

    record_trust_state(context)
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
