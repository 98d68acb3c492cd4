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
from datetime import datetime

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
                "cp_referral_reason",
                "If not, why not?",
                "text",
                hint="Needed when the child was harmed, a crime was committed or they were held "
                "against their will, and no child protection referral was made.",
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


# ---------------------------------------------------------------- validation
#
# One validator for answers, whoever sends them: the web form runs it as a WTForms validator, the
# sync handler on every pushed answer, and field mode (which receives these rules in the schema)
# before it queues a change. The same bad answer is refused with the same words everywhere.


class AnswerError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# The words of every refusal, by rule; field mode receives them filled in for each question.
MESSAGES = {
    "choose_many": "{label}: choose from the options given",
    "choose_one": "{label}: choose one of the options given",
    "not_datetime": "{label}: not a date and time",
    "no_offset": "{label}: give the time zone offset",
    "not_text": "{label}: must be text",
    "too_long": "{label} must be {max_length:,} characters or fewer",
}


def message(question: Question, rule: str) -> str:
    return MESSAGES[rule].format(label=question.label, max_length=question.max_length)


def empty(value) -> bool:
    return value in (None, "", [])


def check_answer(question: Question, value):
    """The answer in its stored form (an ISO 8601 string for a time), or AnswerError."""

    def refuse(rule: str):
        return AnswerError(question.name, message(question, rule))

    if question.kind == "checkboxes":
        allowed = {c[0] for c in question.choices}
        if not isinstance(value, list) or not set(value) <= allowed:
            raise refuse("choose_many")
        return value
    if question.kind == "radios":
        if not isinstance(value, str) or value not in {c[0] for c in question.choices}:
            raise refuse("choose_one")
        return value
    if question.kind == "datetime":
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise refuse("not_datetime") from None
        if parsed.tzinfo is None:
            raise refuse("no_offset")
        return parsed.isoformat()
    if not isinstance(value, str):
        raise refuse("not_text")
    if len(value) > question.max_length:
        raise refuse("too_long")
    return value


_RULES_BY_KIND = {
    "checkboxes": ("choose_many",),
    "radios": ("choose_one",),
    "datetime": ("not_datetime", "no_offset"),
    "text": ("not_text", "too_long"),
    "short": ("not_text", "too_long"),
}


def clean_answers(raw) -> dict:
    """Every answer given checked and normalised, empty ones left out; AnswerError at the first
    that is wrong (an unknown name included)."""
    if not isinstance(raw, dict):
        raise AnswerError("answers", "answers must be an object")
    out = {}
    for name, value in raw.items():
        question = QUESTIONS.get(name)
        if question is None:
            # Not quoted or named: a refusal is stored in clear (sync_mutations.result), and a
            # name the form does not have is the device's text, which could be anything.
            raise AnswerError("answers", "An answer this form does not have was sent")
        if not empty(value):
            out[name] = check_answer(question, value)
    return out


# ---------------------------------------------------------------- completeness
#
# What must be answered before a manager can authorise (Wigan appendix e, Kent), as data so that
# field mode applies the very same rules: a question is required when any one of its `when`
# alternatives holds (every answer named in it is one of the values listed); no `when` means
# always.


@dataclass(frozen=True)
class Required:
    section: str
    field: str
    message: str
    when: tuple[dict[str, tuple[str, ...]], ...] = ()


_ACCEPTED = {"outcome": ("accepted",)}
REQUIRED: tuple[Required, ...] = (
    Required("arrangements", "offered", "Say whether an independent interview was offered"),
    Required(
        "arrangements",
        "outcome",
        "Say whether the child accepted or declined",
        ({"offered": ("Y",)},),
    ),
    Required(
        "arrangements",
        "decline_reason",
        "Say why it was declined or not offered",
        ({"outcome": ("declined",)}, {"offered": ("N",)}),
    ),
    Required(
        "arrangements",
        "attempts",
        "Record the attempts to contact the child",
        ({"outcome": ("declined",)}, {"offered": ("N",)}),
    ),
    Required(
        "arrangements", "independent", "Say whether the interviewer is independent", (_ACCEPTED,)
    ),
    Required("arrangements", "held_at", "Enter when the interview was held", (_ACCEPTED,)),
    Required("arrangements", "location", "Enter where the interview was held", (_ACCEPTED,)),
    Required("arrangements", "present", "Enter who was present", (_ACCEPTED,)),
    Required(
        "concerns", "cp_referral", "Say whether a child protection referral was made", (_ACCEPTED,)
    ),
    # Harm, a crime or being held against their will with no child protection referral: the
    # reason is asked before the interview can be sent for authorisation (issue 12).
    Required(
        "concerns",
        "cp_referral_reason",
        "Say why no child protection referral was made: the child was harmed, a crime was "
        "committed or they were held against their will",
        (
            {**_ACCEPTED, "cp_referral": ("no",), "harm": ("hurt", "injured", "drugged", "abused")},
            {**_ACCEPTED, "cp_referral": ("no",), "crime": ("yes",)},
            {**_ACCEPTED, "cp_referral": ("no",), "held_captive": ("yes",)},
        ),
    ),
    Required(
        "concerns",
        "consent_to_share",
        "Say whether the child consented to sharing",
        (_ACCEPTED,),
    ),
    Required(
        "concerns",
        "share_with",
        "Say who the information was shared with",
        ({**_ACCEPTED, "consent_to_share": ("yes",)},),
    ),
)


@dataclass(frozen=True)
class Problem:
    section: str
    field: str
    message: str


def completeness_problems(data: dict) -> list[Problem]:
    """What is still missing before the interview can be sent for authorisation."""

    def matches(answer, values: tuple[str, ...]) -> bool:
        # A checkboxes answer (a list) matches when any box ticked is one of the values.
        if isinstance(answer, list):
            return any(item in values for item in answer)
        return answer in values

    def holds(alternative: dict[str, tuple[str, ...]]) -> bool:
        return all(matches(data.get(name), values) for name, values in alternative.items())

    return [
        Problem(r.section, r.field, r.message)
        for r in REQUIRED
        if (not r.when or any(holds(alt) for alt in r.when)) and empty(data.get(r.field))
    ]


def choice_label(question: Question, value: str) -> str:
    return dict(question.choices).get(value, value)


def required_rules() -> list[dict]:
    """REQUIRED as plain data, for the offline client."""
    return [
        {
            "section": r.section,
            "field": r.field,
            "message": r.message,
            "when": [{k: list(v) for k, v in alt.items()} for alt in r.when],
        }
        for r in REQUIRED
    ]


def to_json_schema() -> list[dict]:
    """The form as plain data, for the offline client: with each question's kind, choices and
    length, check_answer's rules; with required_rules(), completeness_problems'."""
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
                    "messages": {rule: message(q, rule) for rule in _RULES_BY_KIND[q.kind]},
                }
                for q in s.questions
            ],
        }
        for s in SECTIONS
    ]
