"""Fictional demo data: every name, school and authority here is made up.

Times are relative to now so the 72-hour clocks and escalations always show every state: a child
missing now, returns awaiting allocation, due soon, overdue, submitted, authorised and forwarded.
"""

from __future__ import annotations

from datetime import date, timedelta

from webapp import deadlines, sealed
from webapp.accounts.models import Organisation, OrgKind, Role
from webapp.accounts.service import create_user
from webapp.carers import plan_rules, plans
from webapp.carers.models import ChildProfile, RiskPlan
from webapp.children.models import Child, LegalStatus
from webapp.db_types import utcnow
from webapp.episodes.models import Episode, EpisodeStatus, EscalationAction
from webapp.extensions import db
from webapp.interviews.models import Interview, InterviewStatus
from webapp.schools.absence_models import NO_REASON_YET, Absence, FollowUp
from webapp.schools.calendar_models import SchoolClosure, SchoolTerm
from webapp.schools.pupil_rules import upn_check_letter

USERS_SUMMARY = [
    ("manager@demo.test", "manager"),
    ("ad@demo.test", "Assistant Director (senior manager): receives Need to Know"),
    ("worker@demo.test", "return interview worker"),
    ("worker2@demo.test", "return interview worker"),
    ("sw@demo.test", "social worker"),
    ("dsl@demo.test", "school designated safeguarding lead"),
    ("carer@demo.test", "carer"),
    ("iro@demo.test", "independent reviewing officer"),
    ("cme@demo.test", "children missing education officer"),
    ("admin@demo.test", "administrator"),
]


def load(password: str) -> dict:
    now = utcnow()
    la = Organisation(
        kind=OrgKind.LOCAL_AUTHORITY, name="Northbridge Council", ons_code="E06009901"
    )
    other_la = Organisation(
        kind=OrgKind.LOCAL_AUTHORITY, name="Southvale County Council", ons_code="E10009902"
    )
    team = Organisation(kind=OrgKind.TEAM, name="Missing and Exploitation Team", parent=la)
    school = Organisation(kind=OrgKind.SCHOOL, name="Riverside Academy", urn="999001", parent=la)
    home = Organisation(kind=OrgKind.PROVIDER, name="Oak Lodge Children's Home", parent=la)
    fostering = Organisation(kind=OrgKind.PROVIDER, name="Northbridge Fostering", parent=la)
    db.session.add_all([la, other_la, team, school, home, fostering])
    db.session.flush()

    def user(email, name, role, org, team_=None):
        return create_user(
            email=email, name=name, password=password, role=role, organisation=org, team=team_
        )

    manager = user("manager@demo.test", "Morgan Reed", Role.MANAGER, la)
    worker = user("worker@demo.test", "Sam Okafor", Role.WORKER, la, team)
    worker2 = user("worker2@demo.test", "Priya Shah", Role.WORKER, la, team)
    sw = user("sw@demo.test", "Alex Brennan", Role.SOCIAL_WORKER, la)
    dsl = user("dsl@demo.test", "Jo Whitfield", Role.DSL, school)
    carer = user("carer@demo.test", "Chris Doyle", Role.CARER, fostering)
    user("admin@demo.test", "Robin Hale", Role.ADMIN, la)
    iro = user("iro@demo.test", "Grace Adeyemi", Role.IRO, la)
    user("cme@demo.test", "Tom Ellery", Role.CME, la)
    user("ad@demo.test", "Rhiannon Voss", Role.SENIOR_MANAGER, la)
    other_manager = user("manager@southvale.test", "Dana Frost", Role.MANAGER, other_la)

    # Every child has the authority's identifier (the SSDA903 return's CHILD column), numbered
    # per authority; every looked-after child the date their current period of care began.
    serials: dict[str, int] = {}

    def child(first, last, dob, sex, legal, **kw):
        authority = kw.pop("authority", la)
        serials[authority.id] = serials.get(authority.id, 0) + 1
        prefix = "".join(word[0] for word in authority.name.split()[:2]).upper()
        c = Child(
            first_name=first,
            last_name=last,
            date_of_birth=dob,
            sex=sex,
            legal_status=legal,
            looked_after=legal == LegalStatus.LOOKED_AFTER,
            responsible_authority_id=authority.id,
            authority_child_id=f"{prefix}-{100000 + serials[authority.id]}",
            **kw,
        )
        db.session.add(c)
        db.session.flush()
        return c

    def episode(c, hours_ago, duration_hours=None, **kw):
        last_seen = now - timedelta(hours=hours_ago)
        returned = last_seen + timedelta(hours=duration_hours) if duration_hours else None
        e = Episode(
            child_id=c.id,
            reported_type=kw.pop("reported_type", "missing"),
            missing_from=kw.pop("missing_from", "home"),
            last_seen_at=last_seen,
            reported_to_police_at=last_seen + timedelta(hours=2),
            police_category=kw.pop("police_category", "missing"),
            police_log_number=kw.pop("log", None),
            returned_at=returned,
            how_returned=kw.pop("how", "own_accord") if returned else None,
            found_place=kw.pop("place", "home") if returned else None,
            status=EpisodeStatus.RETURNED if returned else EpisodeStatus.MISSING,
            reported_by_id=manager.id,
        )
        db.session.add(e)
        db.session.flush()
        return e

    def acted(e, code, kind, after_hours, who, note):
        """What was done about an escalation, as the demo's people recorded it."""
        action = EscalationAction(
            episode_id=e.id,
            code=code,
            kind=kind,
            done_at=(e.returned_at or e.last_seen_at) + timedelta(hours=after_hours),
            recorded_by_id=manager.id,
        )
        action.details = {"who": who, "note": note}
        db.session.add(action)

    def interview(c, episodes, status, worker_=None, answers=None, **kw):
        returned = min(e.returned_at for e in episodes)
        i = Interview(
            child_id=c.id,
            due_at=deadlines.rhi_due_at(returned),
            status=status,
            allocated_to_id=worker_.id if worker_ else None,
            team_id=worker_.team_id if worker_ else None,
            allocated_by_id=manager.id if worker_ else None,
            allocated_at=returned + timedelta(hours=1) if worker_ else None,
            **kw,
        )
        i.episodes = list(episodes)
        db.session.add(i)
        db.session.flush()
        if answers:
            i.content_enc = sealed.seal(answers, "interview", i.id, "content")
        return i

    # Missing now for 30 hours: Need to Know is due, an urgent strategy meeting is coming.
    leah = child(
        "Leah",
        "Marsh",
        date(2011, 5, 14),
        "female",
        LegalStatus.LOOKED_AFTER,
        looked_after_since=date(2023, 6, 12),
        placement_provider_id=home.id,
        social_worker_id=sw.id,
        iro_id=iro.id,
        flag_cse=True,
    )
    episode(leah, 30, missing_from="placement", log="NB-2611-0412")

    # Back 10 hours ago, nobody allocated yet.
    tyler = child(
        "Tyler", "Grant", date(2009, 9, 2), "male", LegalStatus.CHILD_IN_NEED, school_id=school.id
    )
    t_ep = episode(
        tyler, 28, 18, log="NB-2611-0398", how="found_by_police", place="address_of_concern"
    )
    interview(tyler, [t_ep], InterviewStatus.AWAITING_ALLOCATION)

    # Back 60 hours ago: due soon, allocated to the demo worker. Three episodes in 30 days.
    mia = child(
        "Mia",
        "Cole",
        date(2010, 1, 21),
        "female",
        LegalStatus.LOOKED_AFTER,
        looked_after_since=date(2021, 3, 8),
        carer_id=carer.id,
        placement_provider_id=fostering.id,
        school_id=school.id,
        social_worker_id=sw.id,
        iro_id=iro.id,
        flag_mental_health=True,
    )
    first = episode(mia, 24 * 20, 10, how="found_by_police", place="transport")
    second = episode(mia, 24 * 9, 6, place="friend")
    # Seen alone after each of the earlier returns (the latest one's visit is still to do).
    acted(first, "lac_visit", "visited", 20, "Alex Brennan", "Demo: seen alone at the placement.")
    acted(second, "lac_visit", "visited", 18, "Alex Brennan", "Demo: seen alone at school.")
    m_ep = episode(mia, 70, 10, log="NB-2611-0355", place="friend")
    interview(
        mia,
        [m_ep],
        InterviewStatus.ALLOCATED,
        worker,
        answers={
            "overview": "Demo: went to a friend's flat in town.",
            "reasons": ["friends", "family_contact"],
        },
    )
    _mia_profile_and_plan(mia, carer, sw, now)

    # Back 80 hours ago: overdue.
    kai = child(
        "Kai", "Turner", date(2008, 11, 3), "male", LegalStatus.CP_PLAN, flag_trafficking=True
    )
    k_ep = episode(kai, 100, 20, log="NB-2611-0301", how="returned_by_police", place="other_area")
    interview(kai, [k_ep], InterviewStatus.ALLOCATED, worker)

    # Submitted, awaiting the manager.
    ruby = child(
        "Ruby", "Ellis", date(2012, 2, 29), "female", LegalStatus.EARLY_HELP, school_id=school.id
    )
    r_ep = episode(ruby, 50, 8, reported_type="absent", police_category="absent")
    interview(
        ruby,
        [r_ep],
        InterviewStatus.SUBMITTED,
        worker,
        answers={
            "location": "Riverside Academy",
            "present": "Ruby and the interviewer",
            "reasons": ["home", "clear_head"],
            "why_details": "Demo: argued at home and went to clear her head.",
            "cp_referral": "no",
            "consent_to_share": "no",
        },
        offered="Y",
        outcome="accepted",
        independent=True,
        held_at=r_ep.returned_at + timedelta(hours=20),
        completed_by_id=worker.id,
        submitted_at=now - timedelta(hours=4),
    )

    # Authorised and forwarded to the police last week.
    noah = child("Noah", "Hughes", date(2009, 6, 30), "male", LegalStatus.NONE)
    n_ep = episode(noah, 24 * 8, 30, how="found_by_other", place="public_place")
    interview(
        noah,
        [n_ep],
        InterviewStatus.AUTHORISED,
        worker,
        answers={
            "location": "Family home",
            "present": "Noah and his mother",
            "reasons": ["peer_pressure", "drugs_alcohol"],
            "cp_referral": "no",
            "consent_to_share": "yes",
            "share_with": "Demo: his school's safeguarding lead",
        },
        offered="Y",
        outcome="accepted",
        independent=True,
        held_at=n_ep.returned_at + timedelta(hours=30),
        completed_by_id=worker.id,
        submitted_at=now - timedelta(days=5),
        authorised_by_id=manager.id,
        authorised_at=now - timedelta(days=4),
        forwarded_to_police_at=now - timedelta(days=4),
    )

    # Allocated to the other worker: the demo worker must not see this child.
    ella = child("Ella", "Price", date(2010, 8, 8), "female", LegalStatus.NONE)
    e_ep = episode(ella, 40, 12, how="collected_by_carer", place="relative")
    interview(ella, [e_ep], InterviewStatus.ALLOCATED, worker2)

    # Another authority's child: no Northbridge user may see it.
    finn = child("Finn", "Walsh", date(2011, 3, 9), "male", LegalStatus.NONE, authority=other_la)
    f_ep = episode(finn, 20, 5)
    interview(finn, [f_ep], InterviewStatus.AWAITING_ALLOCATION)

    _school_year(school, dsl, [tyler, ruby, mia], now)
    db.session.commit()
    return {
        "manager": manager,
        "worker": worker,
        "worker2": worker2,
        "sw": sw,
        "iro": iro,
        "carer": carer,
        "other_manager": other_manager,
        "leah": leah,
        "tyler": tyler,
        "mia": mia,
        "kai": kai,
        "ruby": ruby,
        "noah": noah,
        "ella": ella,
        "finn": finn,
        "school": school,
    }


def _school_year(school: Organisation, dsl, pupils: list[Child], now) -> None:
    """Riverside Academy's 2026/27 terms (half-terms are the gaps) and an INSET day, its pupils'
    UPNs (made up, with valid check letters) and year groups, and an unexplained absence
    followed up since two school days ago, so the DSL's timeline has something to count."""
    for name, start, end in (
        ("Autumn 1", date(2026, 9, 2), date(2026, 10, 23)),
        ("Autumn 2", date(2026, 11, 2), date(2026, 12, 18)),
        ("Spring 1", date(2027, 1, 4), date(2027, 2, 12)),
        ("Spring 2", date(2027, 2, 22), date(2027, 3, 25)),
        ("Summer 1", date(2027, 4, 12), date(2027, 5, 28)),
        ("Summer 2", date(2027, 6, 7), date(2027, 7, 21)),
    ):
        db.session.add(SchoolTerm(school_id=school.id, name=name, starts_on=start, ends_on=end))
    db.session.add(SchoolClosure(school_id=school.id, on=date(2026, 11, 2), reason="INSET day"))
    for serial, pupil in enumerate(pupils, start=1):
        body = f"99900110{serial:04d}"  # LA 999 (no real authority), school 0011
        pupil.upn = upn_check_letter(body) + body
        age_at_september = deadlines.to_local(now).year - pupil.date_of_birth.year
        pupil.year_group = str(max(1, min(13, age_at_september - 5)))
    db.session.flush()
    # The first pupil has been off with no reason since two school days ago (weekdays).
    first = deadlines.to_local(now).date()
    back = 0
    while back < 2:
        first -= timedelta(days=1)
        back += first.weekday() < 5
    followup = FollowUp(child_id=pupils[0].id, school_id=school.id, opened_on=first)
    db.session.add(followup)
    db.session.flush()
    for session in ("am", "pm"):
        db.session.add(
            Absence(
                child_id=pupils[0].id,
                school_id=school.id,
                on=first,
                session=session,
                code=NO_REASON_YET,
                recorded_by_id=dsl.id,
                followup_id=followup.id,
            )
        )


def _mia_profile_and_plan(mia: Child, carer, sw, now) -> None:
    """Mia's standing profile (Philomena Protocol part 1) and her risk assessment and action
    plan, agreed by her carer and social worker a month ago. Every detail is made up; phone
    numbers are from Ofcom's drama range (07700 900000 to 900999), never a real line."""
    profile = db.session.get(ChildProfile, mia.id)  # made with the child (webapp.carers.hooks)
    profile.content = {
        "description": (
            "White British, 160 cm, slim build, shoulder-length dyed red hair, usually tied up. "
            "Small scar above her left eyebrow. Wears a grey hooded coat and white trainers."
        ),
        "phones": "07700 900123 (her own, pay as you go); often out of charge.",
        "social_media": "Snapchat and TikTok, under a nickname her carer knows.",
        "associates": (
            "A school friend in the town centre; an older group who meet at the bus station."
        ),
        "places": (
            "The bus station and the retail park on Canal Road; the skate park on Mill Lane."
        ),
        "medical": "Anxiety; asthma.",
        "medication": "Blue reliever inhaler: she should carry it, often leaves it at home.",
        "money": "A bank card with small amounts on it; pocket money on Fridays.",
        "transport": "Buses into town; a bus pass.",
    }
    profile.review_due = (now + timedelta(days=91)).date()

    content, hours = plan_rules.validate(
        {
            "pattern": (
                "Went missing twice last year, each time in the evening after contact with her "
                "birth family; back by herself within a day."
            ),
            "vulnerabilities": (
                "Anxiety; an older group at the bus station; her inhaler often left behind."
            ),
            "circumstances": "Settled in school; contact with her mother is being reviewed.",
            "return_arrangements": (
                "Her carer collects her if she phones; otherwise police bring her home."
            ),
            "welfare_check": "Carer checks she is well and has eaten; offers her inhaler.",
            "rhi_offer": "Offered within 72 hours, at home or at school, as she prefers.",
            "contacts": [
                {"name": "Jade (school friend)", "relationship": "Friend", "phone": "07700 900456"},
                {"name": "Aunt Carol", "relationship": "Aunt", "phone": "07700 900789"},
            ],
            "addresses": [
                {
                    "address": "The bus station, Station Road",
                    "risk": "high",
                    "action": "Carer drives over to look; call police if she is not there.",
                    "max_wait_hours": "1",
                },
                {
                    "address": "Jade's family home, 12 Orchard Close",
                    "risk": "low",
                    "action": "Phone Jade's mother and ask her to bring Mia home.",
                    "max_wait_hours": "2",
                },
            ],
            "visit_within_days": "5",
            "report_after_hours": "2",
        }
    )
    reviewed = now - timedelta(days=30)
    plan = RiskPlan(
        id=mia.id,
        report_after_hours=hours,
        carer_signed_at=reviewed,
        carer_signed_by_id=carer.id,
        social_worker_signed_at=reviewed,
        social_worker_signed_by_id=sw.id,
        reviewed_at=reviewed,
        updated_by_id=sw.id,
    )
    plan.content = content
    # Due 6 months on, or a week after her first return since: her episodes make it overdue,
    # which the manager's list shows.
    plan.review_due_at = plan_rules.review_due_at(reviewed, plans.returns_since(mia.id, reviewed))
    db.session.add(plan)
    db.session.flush()
