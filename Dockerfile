# s3proxy production image.
#
#   docker build -t s3proxy .
#   buildah bud --isolation chroot --format docker --build-arg BASE=localhost/s3proxy-base:bookworm -t s3proxy .
#
# BASE is any Debian-family image with Python >= 3.11 and its venv module: the official
# python:3.11-slim-bookworm by default, or the local base that `python -m conformance.image base`
# builds with debootstrap where no registry can be reached. Both stages use the same BASE, so the
# venv's interpreter link resolves in the final image.
#
# Workers: s3proxy holds no state between requests (multipart ids and listing tokens are signed
# with server.secret). `server.workers: auto` (the default) starts one worker process per CPU the
# container may use (its cgroup quota: `--cpus N`), each one asyncio event loop (uvicorn by
# default; `server.engine: hypercorn`); S3PROXY_SERVER__WORKERS=1 runs one. Scale out with more
# containers (replicas) behind a load balancer, all with the same server.secret.
ARG BASE=python:3.11-slim-bookworm

# --- build: a venv with s3proxy and its dependencies (all binary wheels; no compiler needed) ---
FROM ${BASE} AS build
SHELL ["/bin/sh", "-eu", "-c"]
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY s3proxy ./s3proxy
# pip and setuptools are removed from the venv afterwards: nothing installs at run time.
# Behind a TLS-intercepting proxy, pass its CA bundle: --secret id=ca-bundle,src=FILE.
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && python3 -m venv /opt/s3proxy \
 && /opt/s3proxy/bin/pip install . \
 && /opt/s3proxy/bin/pip uninstall --yes pip setuptools \
 && /opt/s3proxy/bin/s3proxy --version

# --- run: the base, one unprivileged user, the venv; no build tools, no sources ---
FROM ${BASE}
SHELL ["/bin/sh", "-eu", "-c"]
RUN groupadd --system --gid 10001 s3proxy \
 && useradd --no-log-init --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin s3proxy \
 && mkdir -p /data /etc/s3proxy \
 && chown 10001:10001 /data
COPY --from=build /opt/s3proxy /opt/s3proxy
COPY docker/entrypoint.sh /usr/local/bin/s3proxy-entrypoint
COPY docker/healthcheck.py /opt/s3proxy/healthcheck.py

# Listen on every interface: 127.0.0.1 inside a container is unreachable from outside. These
# override the config file too (S3PROXY_A__B beats YAML); set them to 127.0.0.1 to keep a port
# private, e.g. the admin port when only the in-container HEALTHCHECK reads it.
# glibc malloc: s3proxy itself sets the mmap threshold (4 MiB) and trim threshold (64 MiB) with
# mallopt at start (2-4x less CPU per streamed byte); the same values are set here so they hold
# from the first allocation. MALLOC_ARENA_MAX=2 caps the per-thread arenas that the file and
# DNS worker threads would otherwise multiply (glibc allows 8 per core), which inflates RSS
# under a container memory limit.
ENV PATH=/opt/s3proxy/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=4194304 \
    MALLOC_TRIM_THRESHOLD_=67108864 \
    S3PROXY_SERVER__HOST=0.0.0.0 \
    S3PROXY_SERVER__ADMIN_HOST=0.0.0.0 \
    S3PROXY_CONFIG=/etc/s3proxy/config.yaml

# Without a config file `serve` keeps the embedded local store (and its generated credentials)
# in /data/s3proxy-data: mount a volume here to keep them. /tmp is a volume too, so that it stays
# writable (mode 1777) under a read-only root filesystem: ECS/Fargate mounts an undeclared path
# root-owned 0755, where uid 10001 could not write (terraform/ writes the config there).
WORKDIR /data
VOLUME ["/data", "/tmp"]
USER 10001:10001
# 9000: S3 API. 9001: admin (/healthz, /readyz, /metrics); do not publish it to clients.
EXPOSE 9000 9001
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/opt/s3proxy/bin/python", "/opt/s3proxy/healthcheck.py"]
# A mounted config goes to /etc/s3proxy/config.yaml (read-only is fine): entrypoint adds --config.
ENTRYPOINT ["/usr/local/bin/s3proxy-entrypoint"]
CMD ["serve"]
