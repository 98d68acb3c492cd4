"""The return home interview form as data: one source for the web form, the summary and the
offline client.

Content follows the Wigan appendix e form (DOMAIN.md, "The return home interview"). Each question
has a kind that decides its widget and validation. `envelope=True` marks the few answers the
server keeps in clear because oversight counts them (offered, accepted or declined, independent,
when held); every other answer, the child protection referral and consent included, is
interview content and is encrypted at rest. The police intelligence answer is its own encrypted
field so it can be forwarded without the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

YES_NO = (("yes", "Yes"), ("no", "No"))
YES_NO_UNSURE = (("yes", "Yes"), ("no", "No"), ("not_said", "Did not say"))

TEXT_MAX = 10_000
SHORT_MAX = 200


@dataclass(frozen=True)
class Question:
    name: str
    label: str
    kind: str  # "radios" | "checkboxes" | "text" | "short" | "datetime"
    hint: str | None = None
    choices: tuple[tuple[str, str], ...] = ()
    envelope: bool = False

    @property
    def max_length(self) -> int:
        return TEXT_MAX if self.kind == "text" else SHORT_MAX


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    questions: tuple[Question, ...]
    hint: str | None = None
    names: frozenset[str] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "names", frozenset(q.name for q in self.questions))


WHY_REASONS = (
    ("planned", "It was planned"),
    ("bored", "Bored"),
    ("home", "Something happening at home or in placement"),
    ("peer_pressure", "Peer pressure"),
    ("drugs_alcohol", "Drugs or alcohol"),
    ("family_contact", "Wanting contact with family"),
    ("clear_head", "To clear their head"),
    ("friends", "Friends encouraged them"),
    ("kept_against_will", "Kept against their will"),
    ("other", "Something else"),
)

HARM = (
    ("hurt", "Hurt"),
    ("injured", "Injured"),
    ("drugged", "Drugged"),
    ("abused", "Abused"),
    ("none", "None of these"),
)

SECTIONS: tuple[Section, ...] = (
    Section(
        "arrangements",
        "The offer and the interview",
        (
            Question(
                "offered",
                "Was an independent return interview offered?",
                "radios",
                choices=(("Y", "Yes"), ("N", "No"), ("NA", "Not applicable")),
                envelope=True,
            ),
            Question(
                "outcome",
                "Did the child accept the interview?",
                "radios",
                choices=(("accepted", "Accepted"), ("declined", "Declined")),
                envelope=True,
            ),
            Question(
                "decline_reason",
                "Why was it declined or not offered?",
                "text",
                hint="In the child's words where you can.",
            ),
            Question(
                "attempts",
                "Attempts to contact the child",
                "text",
                hint="Dates, times and how: phone, visit, through school.",
            ),
            Question(
                "independent",
                "Is the interviewer independent of the child's carers?",
                "radios",
                choices=YES_NO,
                envelope=True,
            ),
            Question(
                "held_at",
                "When was the interview held?",
                "datetime",
                hint="UK time. For example, 14/03/2026 at 16:30.",
                envelope=True,
            ),
            Question("location", "Where was it held?", "short", hint="For example, at school."),
            Question("present", "Who was present?", "short"),
            Question("school_checked", "School attendance checked?", "radios", choices=YES_NO),
            Question("health_checked", "Health checked?", "radios", choices=YES_NO),
            Question("overview", "Overview of the episode", "text"),
        ),
    ),
    Section(
        "why",
        "Why did you go?",
        (
            Question(
                "reasons",
                "Reasons the child gave",
                "checkboxes",
                choices=WHY_REASONS,
                hint="Select all that apply.",
            ),
            Question("why_details", "In the child's words", "text"),
        ),
    ),
    Section(
        "away",
        "While away",
        (
            Question(
                "scared_to_return", "Were they scared to return?", "radios", choices=YES_NO_UNSURE
            ),
            Question(
                "wanted_to_return", "Did they want to return?", "radios", choices=YES_NO_UNSURE
            ),
            Question(
                "harm",
                "Did anything bad happen to them?",
                "checkboxes",
                choices=HARM,
                hint="Select all that apply.",
            ),
            Question(
                "held_captive",
                "Were they held against their will?",
                "radios",
                choices=YES_NO_UNSURE,
            ),
            Question(
                "offered_substances",
                "Were they offered drink or drugs?",
                "radios",
                choices=YES_NO_UNSURE,
            ),
            Question("where_stayed", "Where did they stay?", "text"),
            Question("basics", "How did they get food, money and clothes?", "text"),
            Question("contacts", "Who were they in contact with?", "text"),
            Question(
                "police_involved", "Were the police involved?", "radios", choices=YES_NO_UNSURE
            ),
            Question(
                "crime",
                "Was a crime committed by or against them?",
                "radios",
                choices=YES_NO_UNSURE,
            ),
            Question(
                "ran_from_police", "Did they run from the police?", "radios", choices=YES_NO_UNSURE
            ),
            Question("away_details", "Anything else about their time away", "text"),
        ),
    ),
    Section(
        "returning",
        "Returning",
        (
            Question(
                "how_returned",
                "How did they come back?",
                "radios",
                choices=(
                    ("own_accord", "Of their own accord"),
                    ("returned_by_police", "Brought back by the police"),
                    ("collected", "Collected by a parent or carer"),
                    ("other", "Another way"),
                ),
            ),
            Question("returned_by", "Who returned them, if someone did?", "short"),
            Question("asked_pickup", "Did they ask to be picked up?", "radios", choices=YES_NO),
            Question(
                "scared_to_come_back",
                "Were they scared to come back?",
                "radios",
                choices=YES_NO_UNSURE,
            ),
            Question("feel_now", "How do they feel now?", "text"),
            Question("treated_since", "How have they been treated since coming back?", "text"),
            Question("needs", "What do they need?", "text"),
        ),
    ),
    Section(
        "prevention",
        "Staying safe",
        (
            Question("prevent", "What could stop this happening again?", "text"),
            Question("wants_next", "What does the child want to happen next?", "text"),
            Question(
                "safety_info",
                "Information given to the child",
                "checkboxes",
                choices=(
                    ("staying_safe", "Staying-safe advice"),
                    ("helplines", "Helpline numbers"),
                    ("services", "Details of local services"),
                ),
            ),
        ),
    ),
    Section(
        "concerns",
        "Concerns, intelligence and sharing",
        (
            Question("concerns", "Concerns raised", "text"),
            Question(
                "cp_referral",
                "Has a child protection referral been made?",
                "radios",
                choices=YES_NO,
            ),
            Question(
                "intelligence",
                "Information or intelligence for the police",
                "text",
                hint="Names, places, vehicles, phone numbers. Kept apart and shared with the "
                "police only.",
            ),
            Question(
                "consent_to_share",
                "Did the child consent to the information being shared?",
                "radios",
                choices=YES_NO,
            ),
            Question("share_with", "Shared with whom?", "short"),
        ),
    ),
    Section(
        "carers",
        "Parents' and carers' information",
        (
            Question(
                "carers_info",
                "What parents or carers told you",
                "text",
                hint="Especially important when the child declined the interview.",
            ),
        ),
        hint="Offer parents and carers the chance to give information, especially if the child "
        "refused.",
    ),
)

SECTIONS_BY_SLUG = {s.slug: s for s in SECTIONS}
QUESTIONS = {q.name: q for s in SECTIONS for q in s.questions}
INTELLIGENCE_FIELD = "intelligence"
ENVELOPE_FIELDS = frozenset(q.name for q in QUESTIONS.values() if q.envelope)


def choice_label(question: Question, value: str) -> str:
    return dict(question.choices).get(value, value)


def to_json_schema() -> list[dict]:
    """The form as plain data, for the offline client."""
    return [
        {
            "slug": s.slug,
            "title": s.title,
            "hint": s.hint,
            "questions": [
                {
                    "name": q.name,
                    "label": q.label,
                    "kind": q.kind,
                    "hint": q.hint,
                    "choices": [list(c) for c in q.choices],
                    "max_length": q.max_length,
                }
                for q in s.questions
            ],
        }
        for s in SECTIONS
    ]
