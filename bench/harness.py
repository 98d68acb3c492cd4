"""What both benchmarks share: a scratch database, a private instance folder, the real server
(`homeward serve`, gunicorn) on a free loopback port, signing in over HTTP, and percentiles.

The benchmarks drive the app the way a deployment runs it (migrations through the CLI, gunicorn
with its access log) so the figures include everything a device really waits for. They never
touch the `test` database the test suite uses, and only talk to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
# The benches seed through the tests' factories (tests/factories.py).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/homeward_bench"
DEMO_PASSWORD = "homeward-demo"  # noqa: S105  (the fictional demo users' documented password)

# Databases a benchmark must never drop: the test suite's and PostgreSQL's own.
_PROTECTED_DATABASES = {"test", "postgres", "template0", "template1"}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def instance_folder() -> Path:
    """A throwaway instance folder: its own secret key, data keys and server log."""
    return Path(tempfile.mkdtemp(prefix="homeward-bench-"))


def fresh_database(url: str | None, instance: Path) -> str:
    """Drop and recreate the scratch database, so every run starts from the same empty state.

    `None` means a SQLite file in the instance folder. PostgreSQL URLs must point at loopback and
    must not name a protected database.
    """
    if url is None:
        return f"sqlite:///{instance / 'bench.sqlite3'}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or parsed.database == ":memory:":
            raise SystemExit("SQLite benchmarks need a file (the server runs in another process)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return url
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit(f"Unsupported database {parsed.get_backend_name()!r}")
    name = parsed.database or ""
    if (parsed.host or "127.0.0.1") not in _LOOPBACK:
        raise SystemExit("Benchmarks only talk to 127.0.0.1")
    if name in _PROTECTED_DATABASES or not _SAFE_NAME.match(name):
        raise SystemExit(f"Refusing to drop and recreate database {name!r}: use a scratch name")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # The name was checked against _SAFE_NAME above; DDL cannot take bind parameters.
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def drop_database(url: str) -> None:
    """Drop a PostgreSQL scratch database made by fresh_database (which refused unsafe names)."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def app_env(instance: Path, database_url: str) -> dict[str, str]:
    """The environment for the CLI and server: only our instance folder and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    env.pop("DATABASE_URL", None)
    env["HOMEWARD_INSTANCE_PATH"] = str(instance)
    env["DATABASE_URL"] = database_url
    return env


def cli(args: list[str], env: dict[str, str]) -> None:
    """Run `homeward ARGS` exactly as an operator would (migrations, demo data)."""
    done = subprocess.run(  # noqa: S603  (our own CLI, fixed arguments)
        [sys.executable, "-m", "webapp.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode:
        raise SystemExit(f"homeward {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# gunicorn's access log as `homeward serve` configures it: '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
ACCESS_LINE = re.compile(
    r'^\S+ "(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3}) (?P<bytes>\d+|-) (?P<ms>\d+)ms$',
    flags=re.M,
)


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    status: int
    bytes: int  # the response body only: gunicorn's %(B)s leaves out the headers
    ms: int


@dataclass
class Server:
    url: str
    log: Path
    proc: subprocess.Popen

    def hits(self) -> list[Hit]:
        """Every request the server has answered so far, from its own access log."""
        return [
            Hit(
                m["method"],
                m["path"],
                int(m["status"]),
                0 if m["bytes"] == "-" else int(m["bytes"]),
                int(m["ms"]),
            )
            for m in ACCESS_LINE.finditer(self.log.read_text(errors="replace"))
        ]


def serve(
    env: dict[str, str], instance: Path, workers: int, threads: int
) -> AbstractContextManager[Server]:
    """`homeward serve` (gunicorn, gthread workers) on a free port until the block ends, with
    the workers and threads given."""
    return serve_as_configured(
        env, instance, ["--workers", str(workers), "--threads", str(threads)]
    )


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(server.url + "/healthz", timeout=1).raise_for_status()
            return
        except requests.RequestException:
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("The server did not start:\n" + server.log.read_text()) from None
            time.sleep(0.2)


_CSRF_INPUT = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
)


def sign_in(base_url: str, email: str, password: str) -> requests.Session:
    """A signed-in HTTP client, as a browser gets one: the sign-in form, then its CSRF token.

    Sign-in is throttled per email and per IP on failures only, so one success per user is safe.
    """
    http = requests.Session()
    form = http.get(base_url + "/sign-in", timeout=30)
    form.raise_for_status()
    match = _CSRF_INPUT.search(form.text)
    if not match:
        raise SystemExit("No csrf_token on the sign-in form")
    for _ in range(30):
        answer = http.post(
            base_url + "/sign-in",
            data={"email": email, "password": password, "csrf_token": match[1] or match[2]},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 503:
            break
        # The server checks a few passwords at a time and asks the rest to come back.
        time.sleep(float(answer.headers.get("Retry-After", "1")))
    if answer.status_code != 302:
        raise SystemExit(f"Sign-in as {email} failed: HTTP {answer.status_code}")
    _second_factor(http, base_url, email, answer.headers.get("Location", ""))
    return http


_SET_UP: dict[tuple[str, str], str] = {}  # the authenticator secrets set up by this process


def _second_factor(http: requests.Session, base_url: str, email: str, step: str) -> None:
    """A manager's (or administrator's...) code after the password, as their phone gives it: the
    set-up page's key for a demo account's first sign-in, the test data's own otherwise."""
    from tests import factories

    path = urlsplit(step).path
    if path not in ("/sign-in/code", "/sign-in/set-up"):
        return
    page = http.get(base_url + path, timeout=30)
    token = _CSRF_INPUT.search(page.text)
    key = re.search(r'id="setup-key">([A-Z2-7 ]+)<', page.text)
    if key:
        _SET_UP[base_url, email] = key[1].replace(" ", "")
    secret = _SET_UP.get((base_url, email)) or factories.second_factor_secret(email)
    answer = http.post(
        base_url + path,
        data={"code": factories.fresh_code(secret), "csrf_token": token[1] or token[2]},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code not in (200, 302):
        raise SystemExit(f"Second factor for {email} failed: HTTP {answer.status_code}")


class Wire:
    """A signed-in phone's one keep-alive connection, for the load benches' timed requests.

    `requests` spends about 1-2 ms of CPU a request building it (cookie jar, hooks, adapters,
    URL parsing): in a bench whose client shares the server's two cores, that is CPU taken from
    the server being measured. This sends the same request (the session's cookies, the headers
    given) on a plain `http.client` connection, keeps the cookies the server sets, and opens a
    new connection when the server has closed the old one (raising WireReset: the request may
    not have been read, and the caller sends it again, as Chromium does on a reused connection).
    """

    def __init__(self, base_url: str, http: requests.Session):
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._cookies = {c.name: c.value for c in http.cookies}
        self._conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=120)
        sent = dict(headers or {})
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        try:
            self._conn.request(method, path, body=body, headers=sent)
            answer = self._conn.getresponse()
            data = answer.read()
        except (http.client.HTTPException, ConnectionError) as exc:
            self.close()
            raise WireReset from exc
        for cookie in answer.headers.get_all("Set-Cookie") or ():
            name, _, rest = cookie.partition("=")
            self._cookies[name.strip()] = rest.split(";", 1)[0]
        if answer.will_close:
            self.close()
        return answer.status, answer.headers, data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class WireReset(Exception):
    """The connection was closed under a request: send it again."""


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: always a latency that was really observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- CPU accounting (Linux /proc): is a figure limited by CPU, and whose? ------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after its closing bracket.
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (gunicorn's master and its workers)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return pids


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine (the server is local; its backends are ours)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_snapshot(pids: list[int]) -> dict[int, float]:
    """User plus system CPU seconds used so far, per process."""
    snapshot = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            snapshot[pid] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    return snapshot


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two snapshots by the processes alive at the second one (a process
    born in between counts from zero; one that ended in between is lost, so snapshot the end
    before closing connections)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def reference_ms(rounds: int = 9) -> float:
    """This machine's speed at plain Python, in ms (lower is faster): the best of `rounds` runs
    of a fixed loop of calls, attribute and dict work, like a request's. The machines sessions
    get differ (the same code's figures have moved 2.5x between two days), so a figure is
    compared with another only beside this one; the best run, so that what else the machine
    was doing at that instant counts as little as it can."""

    class Row:
        __slots__ = ("key", "value")

        def __init__(self, key: int, value: int):
            self.key, self.value = key, value

    def step(seen: dict, k: int) -> int:
        row = Row(k % 97, k)
        seen[row.key] = seen.get(row.key, 0) + row.value
        return row.key

    best = math.inf
    for _ in range(rounds):
        seen: dict[int, int] = {}
        started = time.process_time()
        for k in range(200_000):
            step(seen, k)
        best = min(best, time.process_time() - started)
    return best * 1000


def machine() -> str:
    """The line every bench prints about where it ran."""
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, reference loop "
        f"{reference_ms():.0f} ms (bench/harness.reference_ms), load average {load_average()}"
    )


# --- added for issue 14's field-scale benches (sync_load.py, pull_load.py) ---------------------


@contextmanager
def serve_as_configured(
    env: dict[str, str], instance: Path, extra: list[str] | None = None
) -> Iterator[Server]:
    """`homeward serve` with only a port: its own default workers and threads (what a deployment
    that follows the README gets), unless `extra` passes --workers/--threads on."""
    port = free_port()
    log_path = instance / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(  # noqa: S603  (our own CLI, fixed arguments)
            [sys.executable, "-m", "webapp.cli", "serve", "--port", str(port), *(extra or [])],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Server(f"http://127.0.0.1:{port}", log_path, proc)
        try:
            _wait_until_up(server)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def bulk_allocated_interviews(
    authority_id: str,
    team_id: str,
    manager_id: str,
    allocations: list[tuple[str, int]],
    seed: int = 14,
) -> dict[str, list[tuple[str, int]]]:
    """For each (worker id, count), that many returned children with one episode and one
    interview allocated to the worker, inserted with Core INSERTs (thousands of ORM objects
    would make the set-up, not the sync, the slow part). Call inside an app context; the caller
    commits. No change_log rows are written here (pull_load.py writes its own log).

    Returns each worker's [(interview id, version)] in id order."""
    import random
    import uuid
    from datetime import UTC, date, datetime, timedelta

    from sqlalchemy import insert

    from webapp import deadlines
    from webapp.children.models import Child
    from webapp.episodes.models import Episode
    from webapp.extensions import db
    from webapp.interviews.models import Interview, interview_episodes

    rng = random.Random(seed)

    def new_uuid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    now = datetime.now(UTC)
    returned = now - timedelta(hours=30)
    children, episodes, interviews, links = [], [], [], []
    mine: dict[str, list[tuple[str, int]]] = {}
    made = 0
    for worker_id, count in allocations:
        for _ in range(count):
            made += 1
            child_id, episode_id, interview_id = new_uuid(), new_uuid(), new_uuid()
            children.append(
                {
                    "id": child_id,
                    "first_name": f"Bench{made}",
                    "last_name": "Child",
                    "date_of_birth": date(2010, 1, 1),
                    "sex": "female",
                    "legal_status": "none",
                    "looked_after": False,
                    "responsible_authority_id": authority_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            episodes.append(
                {
                    "id": episode_id,
                    "child_id": child_id,
                    "reported_type": "missing",
                    "missing_from": "home",
                    "last_seen_at": returned - timedelta(hours=6),
                    "reported_to_police_at": returned - timedelta(hours=4),
                    "police_category": "missing",
                    "returned_at": returned,
                    "how_returned": "own_accord",
                    "status": "returned",
                    "reported_by_id": manager_id,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            interviews.append(
                {
                    "id": interview_id,
                    "child_id": child_id,
                    "status": "allocated",
                    "due_at": deadlines.rhi_due_at(returned),
                    "allocated_to_id": worker_id,
                    "team_id": team_id,
                    "allocated_by_id": manager_id,
                    "allocated_at": returned + timedelta(hours=1),
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            links.append({"interview_id": interview_id, "episode_id": episode_id})
            mine.setdefault(worker_id, []).append((interview_id, 1))
    for table, rows in (
        (Child.__table__, children),
        (Episode.__table__, episodes),
        (Interview.__table__, interviews),
        (interview_episodes, links),
    ):
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(table), rows[start : start + 5000])
    return {worker: sorted(ids) for worker, ids in mine.items()}
