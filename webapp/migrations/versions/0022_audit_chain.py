"""audit_chain: the audit trail becomes a hash chain, and append-only in the database (issue 15)

audit_events gains entry_hash: HMAC-SHA256, under the audit key kept outside the database
(HOMEWARD_AUDIT_KEY or instance/audit-key, webapp.audit_chain), over every column of the entry
and the previous entry's hash. From here on the app appends entries just before commit with
id = head + 1 (webapp.audit.append_pending).

The entries already there are chained here, in id order, in batches: `homeward audit verify`
then has one rule for the whole trail, with no "before the chain" part that could be edited
unseen, or that an edited entry could pretend to belong to. (What those entries said before this
upgrade is what they say now: the chain protects them from the upgrade on, not before.)

Then triggers refuse UPDATE and DELETE on audit_events (and TRUNCATE on PostgreSQL), whatever
the SQL: the app never changes an entry, and a mistaken script cannot either. The database
owner can still drop a trigger; the chain is what shows that happened.

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

PG_FUNCTION = f"""
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER audit_events_no_{op_.lower()} BEFORE {op_} ON audit_events "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {op_} refused'); END"
    for op_ in ("UPDATE", "DELETE")
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
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("entry_hash", existing_type=sa.String(length=64), nullable=False)
    if conn.dialect.name == "postgresql":
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
