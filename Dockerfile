# Homeward's container image: `homeward` as a non-root user, production settings, JSON logs.
# Built and run by compose.yaml (PostgreSQL, two app servers behind nginx, a dispatcher); see
# docs/operations/deployment.md. Secrets never go in the image: they come from the environment,
# or from files (Docker secrets) named by VAR_FILE (scripts/docker-entrypoint.sh).

# The front-end assets (GOV.UK Frontend's styles, htmx) are built with Node, which the runtime
# image does not need.
FROM node:22-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY scripts/build-assets.mjs scripts/
COPY static static
RUN npm run --silent build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOMEWARD_ENV=production \
    HOMEWARD_LOG_FORMAT=json \
    HOMEWARD_INSTANCE_PATH=/var/lib/homeward \
    HOST=0.0.0.0 \
    PORT=5000

# A system account with no shell and no password owns nothing but the (empty) instance folder:
# the code is root's and read-only to the process that serves it.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/homeward --shell /usr/sbin/nologin homeward \
    && install -d -o homeward -g homeward -m 700 /var/lib/homeward

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY webapp webapp
COPY sync sync
COPY templates templates
COPY --from=assets /src/static static
COPY scripts/docker-entrypoint.sh scripts/docker-entrypoint.sh
# Editable: the app finds templates/ and static/ beside its package (webapp/__init__.py).
# redis: the sign-in allowance shared by several servers (HOMEWARD_RATELIMIT_STORAGE_URI).
# constraints.txt: the versions the tests passed with (make lock).
# compileall: PYTHONDONTWRITEBYTECODE keeps the read-only code free of files written at run time,
# so the app's bytecode is written here, once; otherwise every worker and every `homeward`
# command compiles it from source again (0.1-0.25 s each on a 2-core machine).
RUN pip install -c constraints.txt -e . "redis>=5" && chmod 755 scripts/docker-entrypoint.sh \
    && python -m compileall -q webapp sync

USER homeward
EXPOSE 5000
# /healthz answers 200 only when the database does (webapp/main/views.py).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["serve", "--workers", "2"]
