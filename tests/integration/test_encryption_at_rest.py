"""Interview content never reaches the database in clear."""

import pytest
from sqlalchemy import inspect, select, text

from tests.integration.helpers import interview_of
from webapp.extensions import db

# Raw reads of the stored bytes: each database stores them its own way.
pytestmark = pytest.mark.both_databases

CANARY = "Canary-Quokka-5521"
INTEL = "Intel-Vehicle-KX71"


def _raw_dump() -> str:
    """Every value of every row of every table, read with plain SQL."""
    parts = []
    for table in inspect(db.engine).get_table_names():
        for row in db.session.execute(text(f'SELECT * FROM "{table}"')):
            parts.extend(str(v) for v in row)
    return "\n".join(parts)


def test_answers_are_encrypted_in_the_database(as_user, ids):
    worker = as_user("worker@demo.test")
    kai = interview_of(ids["kai"])
    r = worker.post(f"/interviews/{kai.id}/sections/why", {"why_details": CANARY})
    assert r.status_code == 302
    r = worker.post(f"/interviews/{kai.id}/sections/concerns", {"intelligence": INTEL})
    assert r.status_code == 302
    # The app shows it back to the allocated worker...
    assert CANARY in worker.get(f"/interviews/{kai.id}/sections/why").get_data(as_text=True)
    # ...but the database holds only ciphertext tokens with key ids.
    dump = _raw_dump()
    assert CANARY not in dump and INTEL not in dump
    row = db.session.execute(
        text("SELECT content_enc, intelligence_enc FROM interviews WHERE id = :id"), {"id": kai.id}
    ).one()
    assert row.content_enc.startswith("hw1.") and row.intelligence_enc.startswith("hw1.")


def test_ciphertext_moved_to_another_row_does_not_decrypt(app, ids):
    import pytest

    from webapp.crypto import DecryptionError
    from webapp.interviews import service

    ruby, noah = interview_of(ids["ruby"]), interview_of(ids["noah"])
    noah.content_enc = ruby.content_enc
    with pytest.raises(DecryptionError):
        service.answers(noah)


def test_missing_key_is_a_startup_error(tmp_path):
    import pytest

    from webapp import create_app
    from webapp.crypto import MissingKeyError

    with pytest.raises(MissingKeyError):
        create_app(
            {"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://"},
            environ={"HOMEWARD_ENV": "production", "SECRET_KEY": "x" * 40},
        )


# ------------------------------------------------- sensitive values no query needs (issue 8)

LOG_CANARY = "LOG-Canary-Wombat-7731"
SHARE_CANARY = "Share-Canary-Numbat-4410"
CLEARED = {
    "children": {"flag_cse", "flag_trafficking", "flag_mental_health", "flag_disability"},
    "episodes": {"police_log_number"},
    "interviews": {"cp_referral", "consent_to_share"},
}


def _new_child(manager, ids, first: str, flags: list[str]) -> str:
    r = manager.post(
        "/children/new",
        {
            "first_name": first,
            "last_name": "Sealtest",
            "date_of_birth": ["4", "7", "2011"],
            "sex": "female",
            "legal_status": "none",
            "school_id": ids["school"],
            "social_worker_id": "",
            "carer_id": "",
            "flags": flags,
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"].rsplit("/", 1)[1]


def test_flags_log_numbers_and_referral_answers_are_sealed(as_user, ids):
    from datetime import timedelta

    from webapp import deadlines
    from webapp.children.models import FLAG_LABELS
    from webapp.db_types import utcnow

    manager = as_user("manager@demo.test")
    every = _new_child(manager, ids, "Every", list(FLAG_LABELS))
    none = _new_child(manager, ids, "None", [])
    page = manager.get(f"/children/{every}").get_data(as_text=True)
    assert all(label in page for label in FLAG_LABELS.values())

    last_seen = deadlines.to_local(utcnow() - timedelta(hours=3))
    r = manager.post(
        f"/children/{every}/episodes/new",
        {
            "reported_type": "missing",
            "missing_from": "home",
            "last_seen_at": last_seen.strftime("%Y-%m-%dT%H:%M"),
            "police_log_number": LOG_CANARY,
            "police_category": "",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    episode = r.headers["Location"].rsplit("/", 1)[1]
    assert LOG_CANARY in manager.get(f"/episodes/{episode}").get_data(as_text=True)

    worker = as_user("worker@demo.test")
    kai = interview_of(ids["kai"])
    r = worker.post(
        f"/interviews/{kai.id}/sections/concerns",
        {"cp_referral": "yes", "consent_to_share": "yes", "share_with": SHARE_CANARY},
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    from webapp.interviews import service

    db.session.expire_all()
    got = service.answers(interview_of(ids["kai"]))
    assert (got["cp_referral"], got["consent_to_share"]) == ("yes", "yes")

    # No clear column is left for any of them, and no canary is anywhere in the database.
    for table, gone in CLEARED.items():
        columns = {c["name"] for c in inspect(db.engine).get_columns(table)}
        assert not columns & gone, f"{table} still has {columns & gone}"
    dump = _raw_dump()
    assert LOG_CANARY not in dump and SHARE_CANARY not in dump
    rows = dict(
        db.session.execute(
            text("SELECT id, flags_enc FROM children WHERE id IN (:a, :b)"), {"a": every, "b": none}
        ).all()
    )
    # Both children carry a token of the same length: it says nothing about how many flags.
    assert rows[every].startswith("hw1.") and rows[none].startswith("hw1.")
    assert len(rows[every]) == len(rows[none])
    log = db.session.execute(
        text("SELECT police_log_number_enc FROM episodes WHERE id = :id"), {"id": episode}
    ).scalar_one()
    assert log.startswith("hw1.")


def test_a_sealed_flag_or_log_number_copied_to_another_record_does_not_decrypt(app, ids):
    import pytest

    from webapp.children.models import Child
    from webapp.crypto import DecryptionError
    from webapp.episodes.models import Episode

    leah, kai = db.session.get(Child, ids["leah"]), db.session.get(Child, ids["kai"])
    assert leah.flag_cse and not kai.flag_cse
    kai.flags_enc = leah.flags_enc
    with pytest.raises(DecryptionError):
        kai.flags  # noqa: B018
    logged = db.session.scalars(select(Episode).where(Episode.police_log_number_enc.is_not(None)))
    first, other = logged.first(), db.session.scalars(select(Episode)).all()[-1]
    assert first.police_log_number
    other.police_log_number_enc = first.police_log_number_enc
    with pytest.raises(DecryptionError):
        other.police_log_number  # noqa: B018
    db.session.rollback()
