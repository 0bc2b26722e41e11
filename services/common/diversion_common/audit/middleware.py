"""One audit record per call to the API, written after the response in its own short transaction.

Every call under /v1/ and /internal/ is recorded, refusals included (401, 403, 404,
409, 422...): our request id, the client's correlation id, the client and its role,
the method, the route's template, the validated ids in its path, the cases it touched,
the status and the time. Writing it never fails or delays the answer: it happens once
the response has been sent, and a failure is logged (its type only) and dropped.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from diversion_common import actors
from diversion_common.audit.context import touched_cases_var
from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from diversion_common.database import utcnow
from diversion_common.observability import error_type, request_id_var, route_template, validated_ids

log = logging.getLogger("diversion.audit")

AUDITED_PREFIXES = ("/v1/", "/internal/")


class AuditMiddleware:
    def __init__(self, app: ASGIApp, record_table: type[AuditRecordFields], case_table: type[AuditCaseFields]) -> None:
        self.app = app
        self.record_table = record_table
        self.case_table = case_table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(AUDITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        touched: list[uuid.UUID] = []
        token = touched_cases_var.set(touched)
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        except Exception:
            await self._record(scope, 500, touched)
            raise
        finally:
            touched_cases_var.reset(token)
        await self._record(scope, status, touched)

    async def _record(self, scope: Scope, status: int, touched: list[uuid.UUID]) -> None:
        engine: Engine | None = getattr(scope["app"].state, "engine", None) if "app" in scope else None
        request_id = request_id_var.get()
        if engine is None or request_id is None:
            return
        state: dict[str, Any] = scope.get("state") or {}
        path_ids = validated_ids(scope.get("path_params"))
        case_ids = list(dict.fromkeys([*_case_ids_in(path_ids), *touched]))
        client_id = _uuid_or_none(state.get("client_id"))
        record = self.record_table(
            request_id=request_id,
            correlation_id=state.get("client_correlation_id"),
            client_id=client_id,
            actor=actors.client(client_id) if client_id else actors.UNAUTHENTICATED,
            role=state.get("client_role"),
            method=scope["method"][:10],
            route=route_template(scope),
            path_ids=path_ids,
            status=status,
            at=utcnow(),
        )
        try:
            await anyio.to_thread.run_sync(self._write, engine, record, case_ids)
        except Exception as error:  # noqa: BLE001 - an audit failure must never fail the call
            log.error("audit record not written", extra={"error_type": error_type(error), "status": status})

    def _write(self, engine: Engine, record: AuditRecordFields, case_ids: list[uuid.UUID]) -> None:
        with Session(engine) as session:
            session.add(record)
            session.flush()
            assert record.id is not None
            session.add_all([self.case_table(audit_id=record.id, case_id=case_id) for case_id in case_ids])
            session.commit()


def _case_ids_in(path_ids: dict[str, str] | None) -> list[uuid.UUID]:
    case_id = (path_ids or {}).get("case_id")
    return [uuid.UUID(case_id)] if case_id else []


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None
