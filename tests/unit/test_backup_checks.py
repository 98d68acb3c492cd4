"""What a restore refuses before it writes anything (webapp/backups/service.check_header)."""

from __future__ import annotations

import io

import pytest

from webapp.backups import service, stream
from webapp.backups.commands import known_revisions

KEY = bytes(32)


def header(**fields):
    base = {"app": "homeward", "kind": "sqlite", "revision": "r2", "data_key_ids": ["k1", "k2"]}
    out = io.BytesIO()
    writer = stream.Writer(out, KEY, {**base, **fields})
    writer.close()
    return stream.Reader(io.BytesIO(out.getvalue()), KEY).header


HAVE = {"k1": "c1", "k2": "c2", "k3": "c3"}


def check(h, kind="sqlite", known=("r1", "r2"), have=HAVE):
    service.check_header(h, kind=kind, known_revisions=known, available_keys=have)


def test_a_backup_this_instance_can_take():
    check(header())
    check(header(revision="r1", data_key_ids=[]), have={})
    check(header(data_key_checks={"k1": "c1", "k2": "c2"}))


def test_other_database_kind():
    with pytest.raises(stream.BackupError, match="across database kinds"):
        check(header(kind="postgresql"))


def test_newer_schema():
    with pytest.raises(stream.BackupError, match="newer version of Homeward.*r9"):
        check(header(revision="r9"))


def test_missing_data_key_is_named():
    with pytest.raises(stream.BackupError, match="lacks the data key.*: k2 ") as err:
        check(header(), have={"k1": "c1"})
    assert "data-keys.json" in str(err.value)


def test_same_key_id_but_another_key():
    with pytest.raises(stream.BackupError, match=r"k2 are not the key\(s\).*same id, different"):
        check(header(data_key_checks={"k1": "c1", "k2": "other"}))


def test_not_homeward():
    with pytest.raises(stream.BackupError, match="not a Homeward"):
        check(header(app="other"))


def test_known_revisions_are_the_migrations():
    known = known_revisions()
    assert "c4a1e5510006" in known and len(known) >= 24
