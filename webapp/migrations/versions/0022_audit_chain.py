"""audit_chain: the audit trail becomes a hash chain, and append-only in the database (issue 15)

audit_events gains entry_hash: HMAC-SHA256, under the audit key kept outside the database
(HOMEWARD_AUDIT_KEY or instance/audit-key, webapp.audit_chain), over every column of the entry
and the previous chained entry's hash. From here on the app inserts entries with entry_hash NULL
and a chainer sets it shortly after the commit, in id order (webapp.audit.chain_pending): so the
column stays nullable.

The entries already there are chained here, in id order, in batches: `homeward audit verify`
then has one rule for the whole trail, with no "before the chain" part that could be edited
unseen, or that an edited entry could pretend to belong to. (What those entries said before this
upgrade is what they say now: the chain protects them from the upgrade on, not before.)

Then triggers refuse DELETE on audit_events (and TRUNCATE on PostgreSQL), and every UPDATE but
the chainer's one step: entry_hash from NULL to a value, every other column unchanged (compared
NULL-safely, IS NOT DISTINCT FROM / IS). A hash once set is never changed. The app never changes
an entry otherwise, and a mistaken script cannot either. The database owner can still drop a
trigger; the chain is what shows that happened.

Revision ID: c4a1e5510016
Revises: c4a1e5510015
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510016"
down_revision = "c4a1e5510015"
branch_labels = None
depends_on = None

BATCH = 1000

FIELDS = (
    "id",
    "at",
    "user_id",
    "action",
    "object_type",
    "object_id",
    "child_id",
    "device_id",
    "user_agent",
    "ip",
    "detail",
)
events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime),
    *(sa.column(name, sa.String) for name in FIELDS[2:]),
    sa.column("entry_hash", sa.String),
)

REFUSAL = "audit_events is append-only"

# Every column but the hash, unchanged: listed one by one (a column added later must be added
# here too, as to FIELDS; tests/integration/test_audit_chain.py tries each).
PG_SAME = " AND ".join(f"NEW.{name} IS NOT DISTINCT FROM OLD.{name}" for name in FIELDS)
SQLITE_SAME = " AND ".join(f"NEW.{name} IS OLD.{name}" for name in FIELDS)

PG_FUNCTION = f"""
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The chainer's step, and nothing else: a hash set where there was none. (Nested: NEW
    -- and OLD are not there to read for a TRUNCATE.)
    IF TG_OP = 'UPDATE' THEN
        IF OLD.entry_hash IS NULL AND NEW.entry_hash IS NOT NULL AND {PG_SAME} THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    f"WHEN NOT (OLD.entry_hash IS NULL AND NEW.entry_hash IS NOT NULL AND {SQLITE_SAME}) "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: UPDATE refused'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: DELETE refused'); END",
)


def _chain_existing(conn) -> None:
    # Imported here: the app's key (current_app), the one the app itself will append with.
    from webapp import audit, audit_chain

    assert audit_chain.FIELDS == FIELDS, "the migration encodes the columns as the app does"
    key = audit.chain_key()
    prev_hash, last = audit_chain.GENESIS, None
    update = (
        events.update()
        .where(events.c.id == sa.bindparam("row_id"))
        .values(entry_hash=sa.bindparam("new_hash"))
    )
    while True:
        query = sa.select(*(events.c[name] for name in FIELDS)).order_by(events.c.id).limit(BATCH)
        if last is not None:
            query = query.where(events.c.id > last)
        rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return
        for row in rows:
            row["row_id"] = row["id"]
            row["new_hash"] = prev_hash = audit_chain.entry_hash(key, row, prev_hash)
        conn.execute(update, [{"row_id": r["row_id"], "new_hash": r["new_hash"]} for r in rows])
        last = rows[-1]["id"]


def upgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    _chain_existing(conn)
    if conn.dialect.name == "postgresql":
        # New entries take their ids from the sequence: past every id already there, however
        # those were written, or a new entry would land below the chained head (SQLite takes
        # max(id) + 1 by itself).
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), "
            "greatest(coalesce(max(id), 0), 0) + 1, false) FROM audit_events"
        )
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("entry_hash")
