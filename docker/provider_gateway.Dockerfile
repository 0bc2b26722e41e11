# provider_gateway's image (also runs `diversion-link gateway-worker`).
# Build from the repository's root: docker build -f docker/provider_gateway.Dockerfile .
# PYTHON_IMAGE: any Debian-based image with python3 (3.11+) and its venv module, e.g. a
# mirror of python:3.11-slim in your own registry; the builder and the final stage must match.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv
# uv in a venv of its own: it stays in this stage.
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
# The locked dependencies first (a layer that changes only with uv.lock), then our packages.
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project
COPY services ./services
RUN /opt/uv/bin/uv sync --frozen --no-dev

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin diversion
WORKDIR /app
# The venv refers to /app/services (our packages, installed in place) and the system python3.
COPY --from=builder /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY services ./services
USER 10001
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UVICORN_HOST=0.0.0.0 UVICORN_PORT=8001
# 8011: the internal inbox (PROVIDER_GATEWAY_INTERNAL_PORT), for referral_api only: never publish it.
EXPOSE 8001 8011
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ['UVICORN_PORT'], timeout=4)"]
# diversion_common/service_process.py, then the server options of diversion_common/slow_clients.py
# (UVICORN_OPTIONS): service_process.command(); a test keeps them alike.
CMD ["python", "-m", "diversion_common.service_process", "--factory", "provider_gateway.main:create_app", "--http", "diversion_common.slow_clients:H11ProtocolWithHeaderTimeout", "--timeout-keep-alive", "5", "--h11-max-incomplete-event-size", "16384", "--no-access-log"]
