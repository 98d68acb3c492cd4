"""Configuration read from the environment.

Everything that differs between a laptop demo and production comes from environment variables, so
the same code runs in both. Secrets are never defaulted in production: a missing secret is a
startup error rather than a silently generated value that would log everyone out (SECRET_KEY) or
make stored interviews unreadable (data keys).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from webapp import secretfile
from webapp.deadlines import Thresholds

ENV_PREFIX = "HOMEWARD_"


class ConfigError(RuntimeError):
    """The environment does not describe a runnable application."""


def instance_path_from(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOMEWARD_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def _secret_key(environ: Mapping[str, str], instance: Path, production: bool) -> str:
    if environ.get("SECRET_KEY"):
        return environ["SECRET_KEY"]
    if production:
        raise ConfigError("SECRET_KEY must be set in production")
    # Local use: keep one generated key in the instance folder so sessions survive restarts.
    path = instance / "secret-key"
    if path.exists():
        return path.read_text().strip()
    secretfile.private_dir(instance, create=True)
    # Several processes may start at once on a fresh folder (server, dispatcher): whoever
    # publishes first wins, and everyone reads the same, complete key.
    with contextlib.suppress(FileExistsError):
        secretfile.publish_exclusive(path, secrets.token_urlsafe(48).encode())
    return path.read_text().strip()


def _database_url(environ: Mapping[str, str], instance: Path) -> str:
    url = environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance / 'homeward.sqlite3'}"
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _thresholds(environ: Mapping[str, str]) -> Thresholds:
    # HOMEWARD_THRESHOLD_RHI_HOURS=48 overrides Thresholds.rhi_hours, and so on: local areas vary.
    prefix = ENV_PREFIX + "THRESHOLD_"
    overrides = {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}
    return Thresholds.from_mapping(overrides)


def _reminders(environ: Mapping[str, str], thresholds: Thresholds):
    from webapp.reminders.schedule import ReminderSettings

    prefix = "HOMEWARD_REMINDER_"
    values = {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}
    try:
        return ReminderSettings.from_mapping(values, thresholds=thresholds)
    except ValueError as exc:
        raise ConfigError(f"Reminder settings: {exc}") from exc


# What the app keeps in the instance folder besides the database (config, crypto, push.vapid).
SECRET_FILE_NAMES = ("secret-key", "data-keys.json", "vapid-private.pem", "audit-key")


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    if (
        parsed.get_backend_name() != "sqlite"
        or name in ("", ":memory:")
        or name.startswith("file:")
    ):
        return None
    return Path(name).resolve()


def _owner_only(config: dict) -> None:
    """The instance folder, its secrets and the SQLite database: readable by their owner only.

    Checked at every start, so files copied or restored with a looser mode are tightened too.
    """
    instance = Path(config["INSTANCE_PATH"])
    database = _sqlite_file(config["SQLALCHEMY_DATABASE_URI"])
    # The folder is made only when something is kept in it (production may keep nothing there).
    secretfile.private_dir(instance, create=database is not None and database.parent == instance)
    for name in SECRET_FILE_NAMES:
        secretfile.private_file(instance / name)
    if database is not None and database.parent.is_dir():
        # Made here, 0o600, before SQLite would make it with the umask's mode.
        secretfile.private_file(database, create=True)
        for suffix in ("-wal", "-shm", "-journal"):
            secretfile.private_file(database.with_name(database.name + suffix))


def _trusted_proxies(environ: Mapping[str, str]):
    from webapp.proxy import parse_networks

    try:
        return parse_networks(environ.get("HOMEWARD_TRUSTED_PROXIES", ""))
    except ValueError as exc:
        raise ConfigError(f"HOMEWARD_TRUSTED_PROXIES: {exc}") from exc


def build_config(environ: Mapping[str, str] | None = None, **overrides) -> dict:
    environ = os.environ if environ is None else environ
    env = environ.get("HOMEWARD_ENV", "development")
    if env not in ("development", "production", "testing"):
        raise ConfigError(f"HOMEWARD_ENV must be development, production or testing, not {env!r}")
    production = env == "production"
    instance = Path(overrides.pop("INSTANCE_PATH", None) or instance_path_from(environ))
    idle = int(environ.get("HOMEWARD_IDLE_MINUTES", "30"))
    config = {
        "HOMEWARD_ENV": env,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": _secret_key(environ, instance, production),
        "SQLALCHEMY_DATABASE_URI": _database_url(environ, instance),
        # hide_parameters: database errors (and so logs and tracebacks) never carry the values
        # of a statement, which can be a child's name.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "SESSION_COOKIE_NAME": "homeward_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": timedelta(0),
        # The idle timeout: the session cookie expires this long after it was last rewritten (at
        # most a minute before the last request: security.LAST_ACTIVE_EVERY).
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=idle),
        # Rewritten when last_active moves (security.LAST_ACTIVE_EVERY), not on every request.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session, which already expires when idle
        # Off: security.same_origin_only checks Origin (sent by every browser on a POST) instead
        # of demanding a Referer, which the referrer policy may withhold.
        "WTF_CSRF_SSL_STRICT": False,
        # The reverse proxy's addresses: only its X-Forwarded-* headers are believed (proxy.py).
        "HOMEWARD_TRUSTED_PROXIES": _trusted_proxies(environ),
        "HOMEWARD_THRESHOLDS": _thresholds(environ),
        "HOMEWARD_REMINDERS": _reminders(environ, _thresholds(environ)),
        # Reminders: the dispatcher inside `homeward serve` (single node); off when a separate
        # `homeward reminders run` does the sending.
        "HOMEWARD_DISPATCHER": environ.get("HOMEWARD_DISPATCHER", "in-process"),
        # Plain-http push endpoints on this machine: only for the local fake push service in
        # tests, never in production.
        "HOMEWARD_PUSH_ALLOW_LOCAL": not production
        and environ.get("HOMEWARD_PUSH_ALLOW_LOCAL", "0") == "1",
        # A worker sees only their own allocations unless the authority lets teams share.
        "HOMEWARD_WORKER_SEES_TEAM": environ.get("HOMEWARD_WORKER_SEES_TEAM", "0") == "1",
        # Sync requests one server process works on at once, and how long one may wait for a
        # turn before it is answered 503 with Retry-After (webapp/api/admission.py).
        "HOMEWARD_SYNC_SLOTS": int(environ.get("HOMEWARD_SYNC_SLOTS", "4")),
        "HOMEWARD_SYNC_WAIT_SECONDS": float(environ.get("HOMEWARD_SYNC_WAIT_SECONDS", "5")),
        # Sign-in: failures older than this are forgotten by the growing delay.
        "HOMEWARD_LOGIN_WINDOW_MINUTES": int(environ.get("HOMEWARD_LOGIN_WINDOW_MINUTES", "15")),
        # Failed sign-ins (and set-password posts) one address may make, whatever the accounts:
        # caps password spraying; only failures count, so an office behind one address signs in.
        "HOMEWARD_SIGNIN_RATE_LIMIT": environ.get(
            "HOMEWARD_SIGNIN_RATE_LIMIT", "20 per minute;200 per hour"
        ),
        "RATELIMIT_STORAGE_URI": environ.get("HOMEWARD_RATELIMIT_STORAGE_URI", "memory://"),
        # A shared store that goes away must not turn sign-in into 500s: limit in memory meanwhile.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_KEY_PREFIX": "homeward",
        "HOMEWARD_ALLOW_KEY_GENERATION": not production,
        # A deployment's own label (e.g. a git sha), folded into the service worker's version so
        # that a release that changes only server code still tells phones "update ready".
        "HOMEWARD_RELEASE": environ.get("HOMEWARD_RELEASE", ""),
        # Above the sync protocol's 4 MiB batch: a body without a Content-Length (chunked) is
        # cut off here rather than read whole into memory.
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        # Compress the app shell's files only (a phone on a weak signal downloads a quarter of
        # the bytes). Never pages or API answers: compressing a response that holds both a
        # secret (CSRF token) and something an attacker can influence leaks the secret (BREACH).
        # Static files are streamed responses, and Flask-Compress leaves gzip out of streaming by
        # default: a client that only speaks gzip would get them whole.
        "COMPRESS_ALGORITHM_STREAMING": ["zstd", "br", "gzip", "deflate"],
        "COMPRESS_MIMETYPES": [
            "text/css",
            "text/javascript",
            "application/javascript",
            "application/manifest+json",
            "image/svg+xml",
        ],
    }
    config.update(overrides)
    _owner_only(config)
    return config
