"""Start-up: open a node from its settings, checking everything before it serves.

:func:`open_node` migrates the database, takes the manifest in force (the stored one
or the file's, whichever follows the other: :func:`node.services.manifests.startup_manifest`),
loads the signing and pseudonym keys, loads the declared analyzer
(:func:`load_declared_analyzer`) with its saved state, and records the trust state in the
audit log. It returns the :class:`~node.context.NodeContext` the app's lifespan keeps on
``app.state``; ``clearinghouse run`` calls it before listening, to fail fast.

Start-up sits above the services it calls, and :mod:`node.context` below them: the
context holds data only, so the services can take it without importing start-up back.
Every refusal is a :class:`~node.errors.ServiceUnavailable` naming the setting at fault.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine

from clearinghouse.analyzers.base import Analyzer
from clearinghouse.analyzers.registry import AnalyzerNotFound, code_digest, load
from clearinghouse.analyzers.state import State
from clearinghouse.node.auth.oidc import RelyingParty
from clearinghouse.node.clock import Clock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.keyfiles import read_pseudonym_key
from clearinghouse.node.keyring import KeySource, SigningKey, open_key_source, select_signing_key
from clearinghouse.node.metrics import NodeMetrics
from clearinghouse.node.services.authorisations import refresh_active
from clearinghouse.node.services.manifests import startup_manifest
from clearinghouse.node.services.trust_events import record_trust_state
from clearinghouse.node.settings import OidcSettings, Settings
from clearinghouse.node.storage import analysis, outbox
from clearinghouse.node.storage.db import make_engine, transaction, writer_lock_figures
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.keys import Signer
from clearinghouse.protocol.manifest import AnalyzerDeclaration, Manifest

__all__ = ["load_declared_analyzer", "open_node", "open_relying_party"]

log = logging.getLogger("clearinghouse.node")


def open_node(settings: Settings, clock: Clock) -> NodeContext:
    """Load and check everything a node needs; raise with a message naming the setting.
    A refused start keeps no database connection and no key source open.

    :raises ServiceUnavailable: the manifest file cannot be read or no manifest can be
        taken, the key files do not fit the manifest, or the installed analyzer is not
        the declared one.
    """
    try:
        document = settings.manifest_file.read_bytes()
    except OSError as exc:
        raise ServiceUnavailable(f"manifest_file {settings.manifest_file}: {exc.strerror}") from exc
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        return _open_on(engine, settings, clock, document)
    except BaseException:
        engine.dispose()
        raise


def _open_on(engine: Engine, settings: Settings, clock: Clock, document: bytes) -> NodeContext:
    """:func:`open_node` once its database is migrated and open."""
    now = clock.now()
    manifest, since = startup_manifest(engine, document, now, participant=settings.participant)
    try:
        me = manifest.participant(settings.participant)
        pseudonym_key = (
            read_pseudonym_key(settings.pseudonym_key_file) if settings.pseudonym_key_file else None
        )
    except ProtocolError as exc:
        raise ServiceUnavailable(f"participant/pseudonym_key_file: {exc}") from exc
    key_source, private_keys, signing = _open_keys(settings, manifest, now)
    try:
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
            key_source=key_source,
            pseudonym_key=pseudonym_key,
            metrics=NodeMetrics(lambda: _outbox_depth(engine), writer_lock_figures(engine)),
            analyzer=analyzer,
            analyzer_declaration=me.analyzer,
            analyzer_state=state,
            private_keys=private_keys,
            manifest_since=since,
        )
        if settings.oidc is not None:
            context.oidc = open_relying_party(settings.oidc, context.public_url)
        context.metrics.manifest_serial.set(manifest.serial)
        record_trust_state(context)
        refresh_active(context)
    except BaseException:
        key_source.close()
        raise
    return context


def open_relying_party(oidc: OidcSettings, public_url: str) -> RelyingParty:
    """This node at its provider: the pages' callback and the API's audience are at
    ``public_url``. The provider is asked nothing yet (a node starts while it is down).

    :raises ServiceUnavailable: the client secret file cannot be used.
    """
    try:
        return RelyingParty(
            oidc, redirect_uri=public_url + "/ui/oidc/callback", audience=public_url
        )
    except ProtocolError as exc:
        raise ServiceUnavailable(f"oidc.client_secret_file: {exc}") from exc


def _open_keys(
    settings: Settings, manifest: Manifest, now: datetime
) -> tuple[KeySource, dict[str, Signer], SigningKey]:
    """The key source, the keys it holds, and the one that signs now.

    :raises ServiceUnavailable: naming ``key_file`` or ``pkcs11``: the source cannot be
        opened, its key cannot be read, or no key it holds may sign now.
    """
    setting = "pkcs11" if settings.pkcs11 is not None else "key_file"
    try:
        source = open_key_source(settings)
    except ProtocolError as exc:
        raise ServiceUnavailable(f"{setting}: {exc}") from exc
    try:
        private_keys, problems = source.load()
        signing = select_signing_key(manifest, settings.participant, private_keys, now)
    except ProtocolError as exc:
        source.close()
        raise ServiceUnavailable(f"participant/{setting}: {exc}") from exc
    for problem in problems:
        log.warning("key skipped: %s", problem)
    return source, private_keys, signing


def load_declared_analyzer(declaration: AnalyzerDeclaration) -> Analyzer:
    """The installed analyzer, if it is exactly what the manifest declares; else refuse.

    :raises ServiceUnavailable: no such analyzer is installed, or its version or code
        digest differs from the declaration.
    """
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


def _outbox_depth(engine: Engine) -> dict[str, int]:
    """Views waiting per recipient, read when the metrics are scraped."""
    with transaction(engine) as session:
        return outbox.pending_by_recipient(session)
