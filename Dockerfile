# syntax=docker/dockerfile:1
#
# dnssync container image.
#
#   docker build -t dnssync:0.1.0 .
#   docker run --rm -v ./config.yaml:/etc/dnssync/config.yaml:ro \
#       -v ./secrets:/etc/dnssync/secrets:ro -p 8080:8080 dnssync:0.1.0
#
# Two stages: the builder turns the project and every dependency into wheels;
# the final stage installs those wheels only (no compiler, no build tools, no
# pip cache, no wheel files left in a layer) and runs as uid 10001.
#
# Ports: 8080 serves /healthz (alive), /readyz (caches synced, last reconcile
# fine) and /metrics; Kubernetes probes use /healthz (liveness) and /readyz
# (readiness) -- see config/deploy/base/deployment.yaml.  8443 is the
# cert-manager webhook (HTTPS).  Both ports come from the config file
# (`http.port`, `acme.webhook.port`).
#
# The steps are exercised without a container engine by
# tests/integration/test_deploy.py (wheels -> fresh venv -> run as uid 10001).

# The base: Docker Hub's python:3.11-slim (Debian with Python 3.11).  Where Docker
# Hub is out of reach, pass a base of the same layout: --build-arg PYTHON_IMAGE=...
# (`make image` does: buildah, no daemon, on that layout built from Debian's
# packages -- tools/image.py; tests/integration/test_image.py builds and runs it).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the wheel is built from (see .dockerignore for the rest).
COPY pyproject.toml README.md ./
COPY dnssync ./dnssync
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="dnssync" \
      org.opencontainers.image.description="Keep DNS in step with Kubernetes over TSIG-signed RFC 2136" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The wheels are bind-mounted from the builder, so none of them stays in a layer;
# --no-index: everything must come from the builder's wheels.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --no-index --find-links=/wheels dnssync \
    && groupadd --gid 10001 dnssync \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin dnssync
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /
EXPOSE 8080 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3)"]
ENTRYPOINT ["dnssync"]
CMD ["run", "--config", "/etc/dnssync/config.yaml"]
