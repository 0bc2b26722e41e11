"""One audit record per call to the API, never missing for a call answered 2xx.

Every call under /v1/ and /internal/ is recorded, refusals included (401, 403, 404,
409, 422...): an id of its own (ours, one per call), the call's X-Request-ID, the client and its role,
the method, the route's template, the validated ids in its path, the cases it touched,
the status and the time.

Where it is written:
- A call that changes something: in the transaction of its first change
  (diversion_common/audit/recording.py), so the change and its record commit together;
  if the record cannot be written, neither is the change, and the call answers 503.
- Any other call (a read, a refusal): just before its answer goes out, in a short
  transaction of its own. If that fails, a 2xx answer becomes a 503 (a read changed
  nothing); another answer is sent as it was, the failure logged (its type only).
"""

from __future__ import annotations

import uuid

import anyio
import structlog
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from diversion_common.audit.context import touched_cases_var
from diversion_common.audit.recording import CallAudit, call_audit_var, open_for_audit_write, unwritten
from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from diversion_common.observability import current_request_id, error_type
from diversion_common.problems import ServiceUnavailable, problem_response

log = structlog.get_logger("diversion.audit")

AUDITED_PREFIXES = ("/v1/", "/internal/")


class AuditMiddleware:
    def __init__(self, app: ASGIApp, record_table: type[AuditRecordFields], case_table: type[AuditCaseFields]) -> None:
        self.app = app
        self.record_table = record_table
        self.case_table = case_table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine: Engine | None = getattr(scope["app"].state, "engine", None) if "app" in scope else None
        x_request_id = current_request_id()
        if scope["type"] != "http" or not scope["path"].startswith(AUDITED_PREFIXES) or engine is None or x_request_id is None:
            await self.app(scope, receive, send)
            return
        # The record's own id is always ours: a caller may send one X-Request-ID with many calls.
        audit = CallAudit(engine, self.record_table, self.case_table, scope, str(uuid.uuid4()), x_request_id)
        token = call_audit_var.set(audit)
        touched_token = touched_cases_var.set(audit.touched)
        replaced = False

        async def send_once_recorded(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the original answer's body, after a 503 took its place
            if message["type"] == "http.response.start":
                refusal = await self._recorded(audit, message["status"])
                if refusal is not None:
                    replaced = True
                    await problem_response(refusal, Request(scope))(scope, receive, send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_once_recorded)
        except Exception:
            await self._recorded(audit, 500)
            raise
        finally:
            call_audit_var.reset(token)
            touched_cases_var.reset(touched_token)

    async def _recorded(self, audit: CallAudit, status: int) -> ServiceUnavailable | None:
        """None when the call may be answered with ``status`` (its record is written, or it is not a 2xx);
        else the 503 to answer instead."""
        if audit.written_status is not None and not audit.cases_to_add():
            if audit.written_status != status:
                # A route must declare (audit.recording.answering) the status its change will be answered
                # with before it commits: the tested routes do; this names one that does not.
                log.error("audit record's status differs from the answer", status=status, recorded=audit.written_status)
            return None
        try:
            await anyio.to_thread.run_sync(self._write, audit, status)
        except Exception as error:  # noqa: BLE001 - answered below, never raised into the call
            log.error("audit record not written", error_type=error_type(error), status=status)
            return unwritten(error) if 200 <= status < 300 else None
        return None

    def _write(self, audit: CallAudit, status: int) -> None:
        with open_for_audit_write(audit.engine) as session:
            written = audit.write(session, status)
            session.commit()
        audit.committed(*written)


