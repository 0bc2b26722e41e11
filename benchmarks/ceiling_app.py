"""The ceiling `make bench` measures referral intake against: the least an intake can do.

It takes the body `POST /v1/referrals` takes, validates it with the same model
(`ReferralCreate`, through FastAPI as referral_api does) and inserts one row with raw asyncpg,
in a table it creates itself: no authentication, idempotency, rules, case, facts, outbox or
audit. What this machine does with it in the same run as referral_api (same server, one uvicorn
worker, same database server) is the yardstick each of referral_api's figures is divided by, so
they mean something on a shared, noisy machine (docs/PERFORMANCE.md).

Run by scripts/bench.py: `uvicorn --app-dir benchmarks ceiling_app:app` with
BENCH_CEILING_DATABASE_URL set to a database it may create its table in.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from referral_api.cases.schemas import ReferralCreate

TABLE = """
CREATE TABLE IF NOT EXISTS ceiling_referrals (
    id uuid PRIMARY KEY,
    police_reference text NOT NULL,
    body jsonb NOT NULL
)
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # At most as many connections as referral_api's pool opens (diversion_common/database.py: 10 + 10).
    app.state.pool = await asyncpg.create_pool(os.environ["BENCH_CEILING_DATABASE_URL"], min_size=1, max_size=20)
    await app.state.pool.execute(TABLE)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


@app.post("/v1/referrals", status_code=201)
async def create_referral(referral: ReferralCreate) -> dict[str, str]:
    case_id = uuid.uuid4()
    await app.state.pool.execute(
        "INSERT INTO ceiling_referrals (id, police_reference, body) VALUES ($1, $2, $3::jsonb)",
        case_id, referral.police_reference, referral.model_dump_json(),
    )
    return {"id": str(case_id)}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
