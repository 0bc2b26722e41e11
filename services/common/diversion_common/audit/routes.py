"""The administrator's view of the audit log: read-only, filtered, a page at a time.

There is no route that changes the log: the only operation is GET.
"""


import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.audit.search import AuditPage, search_audit
from diversion_common.contracts import code
from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from diversion_common.credentials import Principal
from diversion_common.problems import problem_responses
from diversion_common.wire_types import DateTime


# As stored: client:<id>, scheduler, operator:<name>, unauthenticated (diversion_common.actors).
ActorName = code(120)


def audit_admin_router(
    *,
    admin: Callable[..., Principal],
    get_session: Callable[..., AsyncIterator[Session]],
    record_table: type[AuditRecordFields],
    case_table: type[AuditCaseFields],
) -> APIRouter:
    router = APIRouter(prefix="/v1/admin/audit", tags=["operations"])

    @router.get(
        "",
        response_model=AuditPage,
        summary="Every call to this service, by whom and on which cases, refusals included (oldest first)",
        responses=problem_responses(401, 403, 422),
    )
    def list_audit(
        _admin: Annotated[Principal, Depends(admin)],
        session: Annotated[Session, Depends(get_session, scope="function")],
        client_id: uuid.UUID | None = None,
        case_id: uuid.UUID | None = None,
        actor: Annotated[ActorName | None, Query(description="Only this actor's records, e.g. `operator:alice`.")] = None,
        status: Annotated[int | None, Query(ge=100, le=599)] = None,
        since: Annotated[DateTime | None, Query(description="Calls at or after this time.")] = None,
        until: Annotated[DateTime | None, Query(description="Calls before this time.")] = None,
        cursor: pagination.CursorQuery = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> AuditPage:
        return search_audit(
            session, record_table, case_table, client_id=client_id, case_id=case_id, actor=actor, status=status,
            since=since, until=until, cursor=cursor, limit=limit,
        )

    return router
