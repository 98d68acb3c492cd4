"""Import every model so Alembic and SQLAlchemy see the whole schema."""

from sqlalchemy.orm import configure_mappers

from webapp.accounts.models import LoginThrottle, Organisation, User  # noqa: F401
from webapp.audit import AuditEvent  # noqa: F401
from webapp.carers.models import ChildProfile, RiskPlan  # noqa: F401
from webapp.children.models import Child  # noqa: F401
from webapp.devices.models import Device  # noqa: F401
from webapp.episodes.models import Episode  # noqa: F401
from webapp.fieldsync.models import ChangeLog, SyncConflict, SyncDelivery, SyncMutation  # noqa: F401
from webapp.interviews.models import Interview, interview_episodes  # noqa: F401
from webapp.oversight.meeting_models import MeetingAction  # noqa: F401
from webapp.push.models import PushSubscription  # noqa: F401
from webapp.reminders.models import Reminder, ReminderAttempt  # noqa: F401
from webapp.retention.models import RetentionReport  # noqa: F401
from webapp.schools.absence_models import (  # noqa: F401
    Absence,
    Enquiry,
    FollowUp,
    Referral,
    SchoolNotification,
)
from webapp.schools.calendar_models import SchoolClosure, SchoolTerm  # noqa: F401
from webapp.schools.cme_models import CmeCase  # noqa: F401


def configure() -> None:
    """Resolve every relationship now, at startup, with every model above imported: a broken one
    fails create_app instead of the first request that happens to touch it."""
    configure_mappers()
