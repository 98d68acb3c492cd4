"""Migration 0006 moves clear values already in a database into sealed columns, and back.

A database at revision 0005 with a flagged child, a police log number and interview referral and
consent answers in clear columns is upgraded; the app then reads the same values, and nothing of
them is left in clear. Both databases; on SQLite the children table's foreign keys survive (its
episodes and interviews are still there).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.conftest import _make_app, _pg_exec, _pg_url

# A data migration over each database's own column types.
pytestmark = pytest.mark.both_databases

BEFORE = "c4a1e5510005"
LOG = "LOG-Migrate-Canary-6620"


@pytest.fixture
def empty_url(backend, tmp_path, request):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    request.getfixturevalue("pg_template")  # skips (or fails under CI) without PostgreSQL
    name = f"hw_mig_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed_clear(conn, seal) -> dict[str, str]:
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = {k: str(uuid.uuid4()) for k in ("org", "flagged", "plain", "episode", "asked", "blank")}
    meta = sa.MetaData()
    meta.reflect(conn, only=["organisations", "children", "episodes", "interviews"])
    t = meta.tables
    conn.execute(t["organisations"].insert(), {"id": ids["org"], "kind": "la", "name": "Test LA"})
    child = {
        "first_name": "Mig",
        "last_name": "Ration",
        "date_of_birth": date(2010, 1, 1),
        "sex": "female",
        "legal_status": "none",
        "looked_after": False,
        "responsible_authority_id": ids["org"],
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(
        t["children"].insert(),
        [
            child
            | {"id": ids["flagged"], "flag_cse": True, "flag_trafficking": False}
            | {"flag_mental_health": False, "flag_disability": True},
            child
            | {"id": ids["plain"], "flag_cse": False, "flag_trafficking": False}
            | {"flag_mental_health": False, "flag_disability": False},
        ],
    )
    conn.execute(
        t["episodes"].insert(),
        {
            "id": ids["episode"],
            "child_id": ids["flagged"],
            "reported_type": "missing",
            "missing_from": "home",
            "last_seen_at": now - timedelta(hours=5),
            "police_log_number": LOG,
            "status": "missing",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        },
    )
    interview = {
        "child_id": ids["flagged"],
        "status": "allocated",
        "due_at": now + timedelta(hours=70),
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    conn.execute(
        t["interviews"].insert(),
        [
            interview
            | {
                "id": ids["asked"],
                "cp_referral": True,
                "consent_to_share": False,
                "content_enc": seal({"why_details": "kept"}, "interview", ids["asked"], "content"),
            },
            interview
            | {"id": ids["blank"], "cp_referral": None, "consent_to_share": None}
            | {"content_enc": None},
        ],
    )
    return ids


def test_upgrade_seals_the_clear_values_and_downgrade_restores_them(empty_url, instance_dir):
    app = _make_app(empty_url, instance_dir)
    directory = app.extensions["migrate"].directory
    with app.app_context():
        from webapp import sealed
        from webapp.children.models import Child
        from webapp.episodes.models import Episode
        from webapp.extensions import db
        from webapp.interviews import service
        from webapp.interviews.models import Interview

        upgrade(directory=directory, revision=BEFORE)
        with db.engine.begin() as conn:
            ids = _seed_clear(conn, sealed.seal)

        upgrade(directory=directory)

        flagged, plain = db.session.get(Child, ids["flagged"]), db.session.get(Child, ids["plain"])
        assert flagged.flags == ["Risk of sexual exploitation", "Disability"]
        assert plain.flags == []
        assert len(flagged.flags_enc) == len(plain.flags_enc)
        assert db.session.get(Episode, ids["episode"]).police_log_number == LOG
        asked = service.answers(db.session.get(Interview, ids["asked"]))
        assert asked == {"why_details": "kept", "cp_referral": "yes", "consent_to_share": "no"}
        assert service.answers(db.session.get(Interview, ids["blank"])) == {}
        db.session.rollback()
        with db.engine.connect() as conn:
            raw = repr(conn.execute(sa.text("SELECT * FROM episodes")).all())
            assert LOG not in raw
            columns = {c["name"] for c in sa.inspect(conn).get_columns("children")}
            assert "flags_enc" in columns and "flag_cse" not in columns

        db.session.remove()
        downgrade(directory=directory, revision=BEFORE)
        with db.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT flag_cse, flag_disability, flag_trafficking FROM children "
                    "WHERE id = :id"
                ),
                {"id": ids["flagged"]},
            ).one()
            assert tuple(map(bool, row)) == (True, True, False)
            assert (
                conn.execute(sa.text("SELECT police_log_number FROM episodes")).scalar_one() == LOG
            )
            answers = conn.execute(
                sa.text("SELECT cp_referral, consent_to_share FROM interviews WHERE id = :id"),
                {"id": ids["asked"]},
            ).one()
            assert tuple(map(bool, answers)) == (True, False)
        db.engine.dispose()
