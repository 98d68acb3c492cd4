"""Interview content never reaches the database in clear."""

from sqlalchemy import inspect, text

from tests.integration.helpers import interview_of
from webapp.extensions import db

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
