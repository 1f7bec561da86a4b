"""The node's OpenAPI document: FastAPI's, completed with what the routes imply.

:func:`openapi_document` takes the document FastAPI builds from the routes (operation
ids, answer models and examples are declared on each route) and adds:

1. ``components.securitySchemes``: ``bearerAuth`` (a named machine client's static
   token, or an OpenID Connect access token), ``openIdConnect`` (only when the node's
   settings configure a provider: its discovery document) and ``peerSignature`` (RFC
   9421 signed requests between nodes, described: OpenAPI has no type for them);
2. each operation's ``security``, derived from its dependencies (:func:`_access`):
   :func:`~node.api.deps.require_role` admits a bearer token of its roles (named in
   the requirement, as OpenAPI 3.1 allows, and in the description), ``PeerDep`` a
   signed request, ``AuditReader`` and ``AdminOrPeer`` either;
3. the refusals each operation can give, every one ``application/problem+json`` with
   the :class:`~node.api.models.Problem` schema: those the route declares, 400 for a
   NUL character (every route), 422 for invalid parameters or body, and those of its
   authentication (401, 403, 429; 413 and 415 for a signed request; 503 when an
   identity provider is asked);
4. the request bodies the routes read as bytes (:func:`json_request`) as components.

It refuses (``RuntimeError``) an operation without an ``operationId`` or two with the
same one: clients are generated from, and checked against, these names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, get_args

from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from clearinghouse.node.api import models
from clearinghouse.node.api.deps import AdminOrPeer, AuditReader, PeerDep
from clearinghouse.node.api.problems import PROBLEM_JSON, problem_responses
from clearinghouse.node.transport.httpsig import COVERED_COMPONENTS, LABEL, REQUIRED_PARAMETERS

if TYPE_CHECKING:
    from fastapi.dependencies.models import Dependant

    from clearinghouse.node.settings import Settings

__all__ = ["COMPONENTS", "json_request", "openapi_document", "security_of"]

#: Where the document's schemas are: each model's ``$ref``.
COMPONENTS: Final = "#/components/schemas/{model}"
BEARER, OIDC, PEER = "bearerAuth", "openIdConnect", "peerSignature"

#: The request bodies routes read as bytes and document with :func:`json_request`.
_BODIES: dict[str, type[BaseModel]] = {}


def json_request(
    model: type[BaseModel],
    *,
    description: str | None = None,
    example: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself (as the exact bytes
    it authenticates) and validates it as ``model``: the body, required, by reference,
    with ``example`` (default: the model's first ``examples``)."""
    held = _BODIES.setdefault(model.__name__, model)
    if held is not model:
        raise RuntimeError(f"two request models are named {model.__name__}")
    if example is None:
        example = next(iter(model.model_json_schema().get("examples", [])), None)
    media: dict[str, Any] = {"schema": {"$ref": COMPONENTS.format(model=model.__name__)}}
    if example is not None:
        media["example"] = example
    body: dict[str, Any] = {"required": True, "content": {"application/json": media}}
    if description:
        body["description"] = description
    return {"requestBody": body}


class _Access:
    """Who may call an operation: a bearer token of ``roles`` and/or a signed peer."""

    def __init__(self) -> None:
        self.roles: list[str] = []
        self.bearer = False
        self.peer = False

    def admit(self, *roles: str) -> None:
        self.bearer = True
        self.roles += [r for r in roles if r not in self.roles]


_PEER_ONLY = get_args(PeerDep)[1].dependency
_BOTH: dict[Any, tuple[str, ...]] = {
    get_args(AuditReader)[1].dependency: ("auditor",),
    get_args(AdminOrPeer)[1].dependency: ("admin",),
}


def _roles_of(call: Any) -> tuple[str, ...] | None:
    """The roles of a dependency made by :func:`~node.api.deps.require_role` (its
    ``roles`` attribute); None for any other callable."""
    if not getattr(call, "__qualname__", "").startswith("require_role."):
        return None
    roles = getattr(call, "roles", None)
    if not isinstance(roles, tuple) or not all(isinstance(r, str) for r in roles):
        raise RuntimeError(f"cannot tell the roles {call.__qualname__} admits")
    return roles


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _access(route: APIRoute | RouteContext) -> _Access:
    access = _Access()
    for call in _calls(route.dependant):
        if call is _PEER_ONLY:
            access.peer = True
        elif call in _BOTH:
            access.peer = True
            access.admit(*_BOTH[call])
        elif (roles := _roles_of(call)) is not None:
            access.admit(*roles)
    return access


def security_of(route: APIRoute | RouteContext, *, oidc: bool) -> list[dict[str, list[str]]]:
    """The OpenAPI ``security`` of ``route``: one alternative per way in; [] if public."""
    access = _access(route)
    security: list[dict[str, list[str]]] = []
    if access.bearer:
        roles = [*access.roles, "admin"] if "admin" not in access.roles else access.roles
        security.append({BEARER: roles})
        if oidc:
            security.append({OIDC: []})
    if access.peer:
        security.append({PEER: []})
    return security


def _schemes(settings: Settings) -> dict[str, Any]:
    window = settings.signature_window_s
    covered = ", ".join(f"`{c}`" for c in COVERED_COMPONENTS)
    parameters = ", ".join(f"`{p}`" for p in REQUIRED_PARAMETERS)
    schemes: dict[str, Any] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <token>`: the static token of one of "
            "this node's named machine clients (`[[tokens]]` in its settings: a name, a "
            "role and the token's SHA-256), or, on a node configured for OpenID Connect, "
            "an access token (a JWT) of its provider, whose role comes from a claim. Each "
            "operation names the roles it admits; `admin` is admitted wherever a role is "
            "asked for. A missing or unknown token gets 401, a token of another role 403; "
            "an address that keeps failing gets 429.",
        },
        PEER: {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": "Between nodes only: an RFC 9421 HTTP message signature by an "
            "Ed25519 key that the federation manifest lists for the calling participant "
            "(OpenAPI has no type for it; this names its header). The request carries "
            f'`Signature-Input` and `Signature` (label `{LABEL}`, `alg="ed25519"`), '
            f"covering {covered}, with the parameters {parameters}, and `Content-Digest` "
            "(RFC 9530, `sha-256`) over the exact body bytes, also an empty one. "
            f"`created` must be within {window:g} seconds of the node's clock, either way; "
            "a nonce is taken once. The signature is checked from the headers before any "
            "of the body is read (401 `signature-missing`, `request-signature-invalid`, "
            "`unknown-keyid`, `stale-signature`, `replayed-nonce`, `digest-mismatch`).",
        },
    }
    oidc = getattr(settings, "oidc", None)
    if oidc is not None:
        schemes[OIDC] = {
            "type": "openIdConnect",
            "openIdConnectUrl": oidc.issuer.rstrip("/") + "/.well-known/openid-configuration",
            "description": "An access token of this provider, sent as a bearer token "
            "(`bearerAuth`); the node maps a claim of its holder to a role.",
        }
    return schemes


def _refusals(
    route: APIRoute | RouteContext, operation: dict[str, Any], *, oidc: bool
) -> list[int]:
    """The statuses ``route`` may refuse with beyond those it declares."""
    access = _access(route)
    statuses = {400}  # node.api.deps.no_nul_characters, on every route
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if operation.get("requestBody"):
        statuses |= {413, 415}
    if access.bearer:
        statuses |= {401, 403, 429} | ({503} if oidc else set())
    if access.peer:
        statuses |= {401, 403, 413, 415, 429}
    return sorted(statuses)


def _with_problems(operation: dict[str, Any], statuses: list[int]) -> None:
    """Add the refusals ``statuses`` not declared yet, and make every 4xx problem+json."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, answer in problem_responses(*statuses).items():
        held = responses.get(str(status), {})
        if PROBLEM_JSON not in held.get("content", {}):  # absent, or FastAPI's own 422
            responses[str(status)] = answer
    for status, answer in responses.items():
        if status.startswith(("4", "5")):
            content = answer.setdefault("content", {})
            schema = content.get(PROBLEM_JSON, {}).get("schema", {})
            content.clear()
            content[PROBLEM_JSON] = {
                "schema": schema or {"$ref": COMPONENTS.format(model="Problem")}
            }


#: The keys of the schema FastAPI gives a route's ``dict[str, Any]`` answer (and a ``$ref``).
_PLAIN_DICT: Final = {"$ref", "type", "additionalProperties", "title"}


def _plain_refs(operation: dict[str, Any]) -> None:
    """An answer documented by its model (``responses={200: {"model": ...}}``) while the
    route returns a plain dict: FastAPI merges the dict's schema into the model's
    reference; keep the reference alone."""
    for answer in operation.get("responses", {}).values():
        for media in answer.get("content", {}).values():
            schema = media.get("schema", {})
            if "$ref" in schema and set(schema) <= {
                "$ref",
                "type",
                "additionalProperties",
                "title",
            }:
                media["schema"] = {"$ref": schema["$ref"]}


def _security_line(security: list[dict[str, list[str]]]) -> str:
    ways = []
    for requirement in security:
        for scheme, roles in requirement.items():
            if scheme == BEARER:
                ways.append("a bearer token of role " + " or ".join(f"`{r}`" for r in roles))
            elif scheme == PEER:
                ways.append("a peer's RFC 9421 signed request")
    return "**Access:** " + (", or ".join(ways) if ways else "anyone") + "."


def _add_components(document: dict[str, Any]) -> None:
    """Add the problem and the request bodies to the schemas; give every model its
    ``examples`` back as written (FastAPI drops their ``null`` members)."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    answers = [getattr(models, name) for name in models.__all__]
    chosen: list[tuple[type[BaseModel], Any]] = [(m, "serialization") for m in answers]
    chosen += [(m, "validation") for m in _BODIES.values() if m not in answers]
    _, top = models_json_schema(chosen, ref_template=COMPONENTS)
    for name, schema in top.get("$defs", {}).items():
        held = schemas.setdefault(name, schema)
        if "examples" in schema:
            held["examples"] = schema["examples"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # FastAPI's own 422: this node answers problem+json


def openapi_document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of ``app``: FastAPI's (which it keeps until the routes
    change), completed once."""
    document: dict[str, Any] = FastAPI.openapi(app)
    held = getattr(app.state, "openapi_completed", None)
    if isinstance(held, dict) and held is document:
        return held
    oidc = getattr(settings, "oidc", None) is not None
    document.setdefault("components", {})["securitySchemes"] = _schemes(settings)
    seen: dict[str, str] = {}
    for route in iter_route_contexts(app.routes):  # each route as included (prefixes)
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = document["paths"][route.path_format][method.lower()]
            where = f"{method} {route.path_format}"
            operation_id = operation.get("operationId", "")
            if not operation_id or route.original_route.operation_id is None:
                raise RuntimeError(f"{where} has no hand-chosen operationId")
            if operation_id in seen:
                raise RuntimeError(f"{where} and {seen[operation_id]} share {operation_id!r}")
            seen[operation_id] = where
            security = security_of(route, oidc=oidc)
            if security:
                operation["security"] = security
            line = _security_line(security)
            operation["description"] = (
                f"{operation['description']}\n\n{line}" if operation.get("description") else line
            )
            _with_problems(operation, _refusals(route, operation, oidc=oidc))
            _plain_refs(operation)
    _add_components(document)
    app.state.openapi_completed = document
    return document
