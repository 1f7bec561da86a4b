"""People as principals: a provider's identity turned into a pseudonymous id and kept
in the node's own directory (:mod:`node.storage.people`).

The key of the pseudonyms is a node secret (``node_secret``), made on first use and
kept in the database, so that a node's replicas, and the node after a restore, give
everyone the same id. Every sign-in brings the directory entry up to date; a bearer
JWT writes it the first time this process sees the person, so that API calls stay
free of writes.
"""

from __future__ import annotations

from clearinghouse.node.auth.oidc import Identity
from clearinghouse.node.auth.people import KEY_NAME, person_id
from clearinghouse.node.auth.principal import Principal
from clearinghouse.node.context import NodeContext
from clearinghouse.node.storage import people
from clearinghouse.node.storage.access_models import Person
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.encoding import b64url_decode

__all__ = ["display_names", "known_people", "person_principal"]


def _key(ctx: NodeContext) -> bytes:
    if ctx.person_key is None:
        with transaction(ctx.engine) as session:
            ctx.person_key = b64url_decode(people.node_secret(session, KEY_NAME))
    return ctx.person_key


def person_principal(ctx: NodeContext, identity: Identity, *, sign_in: bool) -> Principal:
    """The principal ``identity`` signs in (``sign_in``) or calls the API as."""
    pid = person_id(_key(ctx), identity.issuer, identity.subject)
    name = ctx.people_seen.get(pid, identity.display_name)
    if sign_in or pid not in ctx.people_seen:
        with transaction(ctx.engine) as session:
            name = people.remember(
                session,
                person_id=pid,
                issuer=identity.issuer,
                subject=identity.subject,
                display_name=identity.display_name,
                email=identity.email,
                roles=identity.roles,
                now=ctx.clock.now(),
                update=sign_in,
            )
        ctx.people_seen[pid] = name
    return Principal("person", pid, identity.roles, name)


def display_names(ctx: NodeContext, actors: list[str]) -> dict[str, str]:
    """The directory's name for each ``person:<id>`` among ``actors``, by actor."""
    ids = {a.removeprefix("person:") for a in actors if a.startswith("person:")}
    with transaction(ctx.engine) as session:
        names = people.display_names(session, ids)
    return {f"person:{pid}": name for pid, name in names.items()}


def known_people(ctx: NodeContext) -> list[Person]:
    """The people who signed in here, most recent first."""
    with transaction(ctx.engine) as session:
        return people.known(session)
