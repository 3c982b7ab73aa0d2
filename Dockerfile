# One image for every Pictor process; each Deployment picks its process with `args`
# (python -m gateway | graph_svc | post_svc | feed_svc | media_svc | pictor.migrations).
# Pin the base by digest in CI (python:3.11-slim@sha256:...) so both stages match exactly.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first, so a source-only change reuses this layer. Every locked package
# ships a manylinux wheel for x86_64 (pyvips-binary bundles libvips): no compiler needed.
COPY requirements.lock /tmp/requirements.lock
RUN pip install -r /tmp/requirements.lock
COPY pictor /app/pictor
COPY gateway /app/gateway
COPY graph_svc /app/graph_svc
COPY post_svc /app/post_svc
COPY feed_svc /app/feed_svc
COPY media_svc /app/media_svc
# The root filesystem is read-only at run time: compile now, and never check mtimes.
RUN python -m compileall -q --invalidation-mode unchecked-hash /app

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 pictor \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin pictor
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001:10001
EXPOSE 8080 50051 50052 50053 50054
CMD ["python", "-m", "gateway"]
