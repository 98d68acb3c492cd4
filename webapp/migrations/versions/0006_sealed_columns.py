"""seal sensitive clear columns

A child's risk flags, an episode's police log number and an interview's child protection referral
and consent answers were clear columns although no query reads them. They move into AES-GCM
tokens (webapp.sealed, the app's own cipher and data keys, bound to record and field), in
batches, then the clear columns are dropped. The flags become one sealed {flag: 0 or 1} per child
(all four, so the token's length says nothing); the referral and consent answers join the
interview's sealed content ("yes"/"no", as the form sends).

On SQLite the columns are dropped with ALTER TABLE ... DROP COLUMN (SQLite 3.35+) rather than
Alembic's copy-and-rename, which with foreign keys on would delete every episode and interview
of the children table it drops.

Revision ID: c4a1e5510006
Revises: c4a1e5510005
"""

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510006"
down_revision = "c4a1e5510005"
branch_labels = None
depends_on = None

BATCH = 500
FLAGS = ("flag_cse", "flag_trafficking", "flag_mental_health", "flag_disability")

children = sa.table(
    "children",
    sa.column("id", sa.String),
    sa.column("flags_enc", sa.Text),
    *(sa.column(f, sa.Boolean) for f in FLAGS),
)
episodes = sa.table(
    "episodes",
    sa.column("id", sa.String),
    sa.column("police_log_number", sa.String),
    sa.column("police_log_number_enc", sa.Text),
)
interviews = sa.table(
    "interviews",
    sa.column("id", sa.String),
    sa.column("content_enc", sa.Text),
    sa.column("cp_referral", sa.Boolean),
    sa.column("consent_to_share", sa.Boolean),
)
MOVED = ("cp_referral", "consent_to_share")


def _batches(conn, table, columns, where=None) -> Iterator[list]:
    """Rows in id order, BATCH at a time (keyset paging: no OFFSET rescans on a big table)."""
    last = ""
    while True:
        query = sa.select(*columns).where(table.c.id > last).order_by(table.c.id).limit(BATCH)
        if where is not None:
            query = query.where(where)
        rows = conn.execute(query).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _update(conn, table, column: str, values: list[dict]) -> None:
    if values:
        conn.execute(
            table.update().where(table.c.id == sa.bindparam("rid")),
            [{"rid": v["rid"], column: v["value"]} for v in values],
        )


def _drop(table: str, columns) -> None:
    for column in columns:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)


def _yes_no(value) -> str | None:
    return None if value is None else ("yes" if value else "no")


def upgrade():
    # Imported here: the app's cipher (current_app), with the keys the app itself loaded.
    from webapp.sealed import seal, unseal

    conn = op.get_bind()
    op.add_column("children", sa.Column("flags_enc", sa.Text(), nullable=True))
    op.add_column("episodes", sa.Column("police_log_number_enc", sa.Text(), nullable=True))

    for rows in _batches(conn, children, [children.c.id, *(children.c[f] for f in FLAGS)]):
        _update(
            conn,
            children,
            "flags_enc",
            [
                # Every child gets a token of every flag, 0 or 1, as the app writes it
                # (Child.sealed_flags): neither NULL nor the length says "no flags".
                {
                    "rid": r.id,
                    "value": seal(
                        {f: int(bool(r._mapping[f])) for f in FLAGS}, "child", r.id, "flags"
                    ),
                }
                for r in rows
            ],
        )
    for rows in _batches(
        conn,
        episodes,
        [episodes.c.id, episodes.c.police_log_number],
        episodes.c.police_log_number.is_not(None),
    ):
        _update(
            conn,
            episodes,
            "police_log_number_enc",
            [
                {
                    "rid": r.id,
                    "value": seal(r.police_log_number, "episode", r.id, "police_log_number"),
                }
                for r in rows
            ],
        )
    for rows in _batches(
        conn,
        interviews,
        [interviews.c.id, interviews.c.content_enc, *(interviews.c[f] for f in MOVED)],
        sa.or_(*(interviews.c[f].is_not(None) for f in MOVED)),
    ):
        values = []
        for r in rows:
            content = dict(unseal(r.content_enc, "interview", r.id, "content", {}))
            for name in MOVED:
                if r._mapping[name] is not None:
                    content[name] = _yes_no(r._mapping[name])
            values.append({"rid": r.id, "value": seal(content, "interview", r.id, "content")})
        _update(conn, interviews, "content_enc", values)

    _drop("children", FLAGS)
    _drop("episodes", ["police_log_number"])
    _drop("interviews", MOVED)


def downgrade():
    from webapp.sealed import seal, unseal

    conn = op.get_bind()
    for flag in FLAGS:
        op.add_column(
            "children", sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.add_column("episodes", sa.Column("police_log_number", sa.String(40), nullable=True))
    for name in MOVED:
        op.add_column("interviews", sa.Column(name, sa.Boolean(), nullable=True))

    for rows in _batches(conn, children, [children.c.id, children.c.flags_enc]):
        for r in rows:
            flags = unseal(r.flags_enc, "child", r.id, "flags", {})
            conn.execute(
                children.update()
                .where(children.c.id == r.id)
                .values({f: bool(flags.get(f)) for f in FLAGS})
            )
    for rows in _batches(
        conn,
        episodes,
        [episodes.c.id, episodes.c.police_log_number_enc],
        episodes.c.police_log_number_enc.is_not(None),
    ):
        _update(
            conn,
            episodes,
            "police_log_number",
            [
                {
                    "rid": r.id,
                    "value": unseal(r.police_log_number_enc, "episode", r.id, "police_log_number"),
                }
                for r in rows
            ],
        )
    for rows in _batches(
        conn,
        interviews,
        [interviews.c.id, interviews.c.content_enc],
        interviews.c.content_enc.is_not(None),
    ):
        for r in rows:
            content = dict(unseal(r.content_enc, "interview", r.id, "content", {}))
            moved = {n: {"yes": True, "no": False}.get(content.pop(n, None)) for n in MOVED}
            if any(v is not None for v in moved.values()):
                conn.execute(
                    interviews.update()
                    .where(interviews.c.id == r.id)
                    .values(content_enc=seal(content, "interview", r.id, "content"), **moved)
                )

    _drop("children", ["flags_enc"])
    _drop("episodes", ["police_log_number_enc"])
