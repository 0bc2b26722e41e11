"""Bearer API keys checked against a service's own client table, as scoped dependencies."""


from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Select, bindparam, select
from sqlmodel import Session

from diversion_common.credentials import ClientFields, Principal, Role, key_matches, parse_key
from diversion_common.problems import Forbidden, Unauthenticated

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key issued with `diversion-link clients create`, sent as a bearer token.",
)


def authenticate(connection: Connection, client_table: type[ClientFields], key: str | None) -> Principal:
    parsed = parse_key(key) if key else None
    if parsed is None:
        raise Unauthenticated()
    client_id, secret = parsed
    # Every call of both services runs this: one statement built once, no ORM object.
    client = connection.execute(_client_by_id(client_table), {"client_id": client_id}).first()
    if client is None or client.revoked_at is not None or not key_matches(secret, client.key_hash):
        raise Unauthenticated()
    return Principal(
        client_id=client.id,
        name=client.name,
        role=Role(client.role),
        force=client.force,
        provider_id=client.provider_id,
        court=client.court,
    )


@cache
def _client_by_id(client_table: type[ClientFields]) -> Select[Any]:
    columns = client_table.__table__.c  # type: ignore[attr-defined]
    return select(
        columns.id, columns.name, columns.role, columns.force, columns.provider_id, columns.court, columns.revoked_at, columns.key_hash
    ).where(columns.id == bindparam("client_id"))


def role_dependency(
    client_table: type[ClientFields],
    get_session: Callable[..., AsyncIterator[Session]],
    *roles: Role,
) -> Callable[..., Any]:
    """A FastAPI dependency that admits only credentials of the given roles."""

    async def require_role(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        session: Annotated[Session, Depends(get_session, scope="function")],
    ) -> Principal:
        # Normally the AuthenticationGate has checked the key already, before the body was read;
        # `credentials` stays declared so that the OpenAPI documents the scheme (and the gate finds it).
        # A coroutine: checking a role needs no thread, and the key's look-up, if the gate has not
        # done it, is sent to one.
        principal = getattr(request.state, "principal", None) or await run_in_threadpool(
            authenticate, session.connection(), client_table, credentials.credentials if credentials else None
        )
        request.state.client_id = str(principal.client_id)
        request.state.client_role = principal.role.value  # for the audit record
        if principal.role not in roles:
            raise Forbidden()
        return principal

    require_role.__name__ = "require_" + "_or_".join(role.value for role in roles)
    require_role.roles = roles  # type: ignore[attr-defined]  # stated in the OpenAPI document (service_app)
    return require_role


def roles_of(dependant: Any) -> tuple[Role, ...] | None:
    """The roles a route's dependencies admit (``role_dependency``), or None if it checks no role."""
    for sub in dependant.dependencies:
        roles = getattr(sub.call, "roles", None)
        if roles is None:
            roles = roles_of(sub)
        if roles is not None:
            return roles
    return None
