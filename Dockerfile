# One image for every role of qcexec; the command picks the role:
#   docker run IMAGE                                    the API (python -m api) on 0.0.0.0:8000
#   docker run IMAGE python -m processor                a processor (start more to share partitions)
#   docker run IMAGE python -m materializer             the materializer (the Redis view)
#   docker run IMAGE python -m ops topics create        creates the topics, once
# Every setting is an environment variable (see docs/configuration.md).
#
# Both stages use the same base image: the virtual environment built in the first one points
# at /usr/local/bin/python3.11, which the second one has at the same place.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

FROM ${PYTHON_IMAGE} AS builder

# uv from PyPI (no other download site needed), pinned like every other dependency.
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/qcexec/venv

WORKDIR /src

# The dependencies first, from the lock alone: this layer is rebuilt only when uv.lock changes.
# qcexec-client (clients/python, a path dependency) comes with the project's own code below.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --no-install-package qcexec-client

# Then the project itself, installed as a wheel (not editable): the runtime needs only the venv.
COPY README.md ./
COPY api ./api
COPY processor ./processor
COPY materializer ./materializer
COPY runtime ./runtime
COPY ops ./ops
COPY schemas ./schemas
COPY programs ./programs
COPY clients/python ./clients/python
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="qcexec" \
      org.opencontainers.image.description="OpenQASM 3 programs in, measurement counts out, through a Kafka-compatible log"

# An unprivileged user with a numeric id (so that Kubernetes' runAsNonRoot can check it). Its
# home is the working directory; the processes write only under /tmp (Faust's data directory,
# PROCESSOR_DATA_DIR, which holds no tables).
RUN groupadd --system --gid 10001 qcexec \
    && useradd --system --uid 10001 --gid qcexec --home-dir /var/lib/qcexec --create-home \
        --shell /usr/sbin/nologin qcexec

COPY --from=builder /opt/qcexec/venv /opt/qcexec/venv

# The processor and the materializer serve /metrics and /healthz on port 9100 (each role runs
# in a container of its own); logs are JSON lines (LOG_FORMAT=auto, no terminal).
ENV PATH=/opt/qcexec/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    API_HOST=0.0.0.0 \
    API_PORT=8000 \
    METRICS_HOST=0.0.0.0 \
    PROCESSOR_METRICS_PORT=9100 \
    MATERIALIZER_METRICS_PORT=9100

WORKDIR /var/lib/qcexec
USER 10001:10001
EXPOSE 8000 9100

# Liveness of whichever role runs: GET /healthz on the API's port, or on the metrics port of
# the processor or materializer (503 there when its consume loop stopped ticking). curl is not
# in the slim image; python -m runtime.health uses urllib.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "runtime.health"]

CMD ["python", "-m", "api"]
