from sqlalchemy import select

from webapp.episodes.models import Episode
from webapp.extensions import db
from webapp.interviews.models import Interview


def interview_of(child_id: str) -> Interview:
    return db.session.scalars(
        select(Interview)
        .where(Interview.child_id == child_id)
        .order_by(Interview.created_at.desc())
    ).first()


def episodes_of(child_id: str) -> list[Episode]:
    return list(
        db.session.scalars(
            select(Episode).where(Episode.child_id == child_id).order_by(Episode.last_seen_at)
        )
    )


def fresh(obj):
    db.session.expire_all()
    identity = db.inspect(obj).identity  # composite keys (devices) as well as single ids
    return db.session.get(type(obj), identity if len(identity) > 1 else identity[0])
