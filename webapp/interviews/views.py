from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from webapp import access
from webapp.accounts.models import Role
from webapp.db_types import utcnow
from webapp.errors import ChangedMeanwhile, NotAllowed, NotFound, RuleError
from webapp.extensions import db
from webapp.interviews import service, workflow
from webapp.interviews.forms import (
    AllocateForm,
    ArrangeForm,
    ForwardForm,
    PassOnForm,
    ReviewForm,
    form_data_from_answers,
    section_form_class,
    values_from,
)
from webapp.interviews.questions import QUESTIONS, SECTIONS, SECTIONS_BY_SLUG
from webapp.security import login_required, roles_required

bp = Blueprint("interviews", __name__)


# Who fills interviews in: return interview workers, and a looked-after child's social worker
# holding the child's interview (the Hertfordshire model).
HOLDERS = (Role.WORKER, Role.SOCIAL_WORKER)


@bp.route("/returns")
@roles_required(*HOLDERS)
def my_returns():
    now = utcnow()
    rows = [(i, service.clock(i, now)) for i in service.list_for_worker(current_user)]
    return render_template("interviews/my_returns.html", rows=rows)


@bp.route("/interviews/<interview_id>")
@login_required
def show(interview_id: str):
    interview = service.read_interview(current_user, interview_id)
    if not access.can_read_interview_content(current_user, interview):
        # The child's social worker sees where the interview stands (to hold it themself, or to
        # know who does), never its answers before a manager has authorised it.
        if current_user.role != Role.SOCIAL_WORKER:
            raise NotFound
    return _render_show(interview)


def _render_show(
    interview,
    *,
    problems=(),
    allocate_form=None,
    review_form=None,
    forward_form=None,
    arrange_form=None,
    pass_on_form=None,
    status=200,
):
    actions = access.interview_actions(current_user, interview)
    content_visible = access.can_read_interview_content(current_user, interview)
    if arrange_form is None and service.may_arrange(current_user, interview):
        arrange_form = ArrangeForm(
            appointment_at=interview.appointment_at, place=interview.appointment_place
        )
    if allocate_form is None and workflow.Action.ALLOCATE in actions:
        allocate_form = AllocateForm(worker_id=interview.allocated_to_id)
    if allocate_form is not None:
        allocate_form.worker_id.choices = [("", "Choose a worker")] + service.allocation_choices(
            current_user, interview
        )
    if pass_on_form is None and workflow.Action.PASS_ON in actions:
        pass_on_form = PassOnForm()
    if pass_on_form is not None:
        pass_on_form.worker_id.choices = _pass_on_choices()
    data = service.answers(interview) if content_visible else {}
    return (
        render_template(
            "interviews/show.html",
            interview=interview,
            child=interview.child,
            clock=service.clock(interview),
            sections=[(s, service.section_state(s, data)) for s in SECTIONS],
            answers=data,
            review_note=service.review_note(interview),
            actions=actions,
            problems=problems,
            allocate_form=allocate_form,
            review_form=review_form or ReviewForm(),
            forward_form=forward_form or ForwardForm(),
            arrange_form=arrange_form,
            pass_on_form=pass_on_form,
            content_visible=content_visible,
            SECTIONS=SECTIONS,
        ),
        status,
    )


@bp.route("/interviews/<interview_id>/sections/<slug>", methods=["GET", "POST"])
@roles_required(*HOLDERS)
def section(interview_id: str, slug: str):
    section = SECTIONS_BY_SLUG.get(slug) or abort(404)
    interview = service.read_interview(current_user, interview_id)
    if not access.can_edit_interview(current_user, interview):
        abort(404)
    form_class = section_form_class(slug)
    autosave = request.form.get("_autosave") == "1"
    if request.method == "GET":
        form = form_class(data=form_data_from_answers(section, service.answers(interview)))
        return _render_section(interview, section, form)

    form = form_class()
    valid = form.validate()
    conflict = False
    if not form.csrf_token.errors:
        try:
            # Save every answer that is valid, even when another one is not: nothing typed is
            # lost while the person fixes the one mistake.
            service.save_section(
                current_user,
                interview,
                section,
                values_from(form, section, only_valid=True),
                read_version=_read_version(),
            )
        except RuleError as err:
            if err.field in form:
                form[err.field].errors.append(err.message)
            valid = False
        except (ChangedMeanwhile, StaleDataError):
            # Another browser or phone saved this interview since this form was read (the form's
            # version), or between our read and our write (the version column caught it).
            # Nothing of ours was written: the form goes back as typed, with the current
            # version, so the person can compare and save again deliberately.
            db.session.rollback()
            conflict = True
    if conflict:
        return _render_conflict(interview, section, form, autosave)
    saved_at = utcnow() if not form.csrf_token.errors else None
    if autosave:
        # The form's version moves on with each save it made (an out-of-band swap), so its next
        # autosave is not taken for someone else's change.
        return render_template(
            "interviews/_save_status.html",
            saved_at=saved_at,
            form=form,
            valid=valid,
            version_oob=interview.version if saved_at else None,
        ), (200 if valid else 422)
    if not valid:
        return _render_section(interview, section, form, saved_at=saved_at, status=422)
    following = _next_section(slug)
    flash(f"{section.title}: saved.", "success")
    if following:
        target = url_for("interviews.section", interview_id=interview.id, slug=following)
    else:
        target = url_for("interviews.show", interview_id=interview.id)
    if request.htmx:
        # A plain 302 would be followed inside the fetch and the next page swapped into this form.
        return make_response("", 200, {"HX-Redirect": target})
    return redirect(target)


def _read_version() -> int | None:
    """The version the form was read at; None from a client that sends none (no check)."""
    raw = request.form.get("version")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return -1  # never an interview's version: answered as a conflict


CONFLICT_MESSAGE = (
    "Someone else changed this interview while you were editing it. Your answers below have "
    "not been saved: check them against the interview and save again."
)


def _render_conflict(interview, section, form, autosave: bool):
    if autosave:
        return render_template(
            "interviews/_save_status.html", saved_at=None, form=form, conflict=CONFLICT_MESSAGE
        ), 409
    return _render_section(interview, section, form, status=409, conflict=CONFLICT_MESSAGE)


def _next_section(slug: str) -> str | None:
    slugs = [s.slug for s in SECTIONS]
    i = slugs.index(slug)
    return slugs[i + 1] if i + 1 < len(slugs) else None


def _render_section(interview, section, form, saved_at=None, status=200, conflict=None):
    template = "interviews/_section_form.html" if request.htmx else "interviews/section.html"
    return (
        render_template(
            template,
            interview=interview,
            child=interview.child,
            section=section,
            form=form,
            saved_at=saved_at,
            conflict=conflict,
            clock=service.clock(interview),
            next_slug=_next_section(section.slug),
        ),
        status,
    )


@bp.route("/interviews/<interview_id>/submit", methods=["POST"])
@roles_required(*HOLDERS)
def submit(interview_id: str):
    interview = service.read_interview(current_user, interview_id)
    try:
        problems = service.submit(current_user, interview)
    except NotAllowed:
        if workflow.is_open(interview.status):
            raise  # not this worker's to submit: answered as not found
        # A second tap on Submit, or the Back button and Submit again: the first one counted.
        flash("This interview has already been sent for authorisation.", "info")
        return redirect(url_for("interviews.my_returns"))
    if problems:
        return _render_show(interview, problems=problems, status=422)
    flash("Interview sent to your manager for authorisation.", "success")
    return redirect(url_for("interviews.my_returns"))


@bp.route("/interviews/<interview_id>/allocate", methods=["POST"])
@roles_required(Role.MANAGER)
def allocate(interview_id: str):
    interview = service.read_interview(current_user, interview_id)
    form = AllocateForm()
    form.worker_id.choices = service.allocation_choices(current_user, interview)
    if form.validate_on_submit():
        try:
            service.allocate(current_user, interview, form.worker_id.data)
        except RuleError as err:
            form.worker_id.errors = [err.message]
        else:
            flash(f"Allocated to {interview.allocated_to.name}.", "success")
            if request.form.get("back") == "dashboard":
                return redirect(url_for("oversight.dashboard"))
            return redirect(url_for("interviews.show", interview_id=interview.id))
    elif form.worker_id.errors:
        form.worker_id.errors = ["Choose a return interview worker from the list"]
    return _render_show(interview, allocate_form=form, status=422)


def _pass_on_choices() -> list[tuple[str, str]]:
    return [("", "The return interview team (a manager allocates it)")] + [
        (w.id, w.name) for w in service.workers_for(current_user)
    ]


@bp.route("/interviews/<interview_id>/take", methods=["POST"])
@roles_required(Role.SOCIAL_WORKER)
def take(interview_id: str):
    """The looked-after child's social worker holds the interview themself."""
    interview = service.read_interview(current_user, interview_id)
    try:
        service.take(current_user, interview)
    except RuleError:
        # Taken by someone else (a manager allocated it) since the page was drawn: say so.
        flash("This interview has already been allocated.", "info")
        return redirect(url_for("interviews.show", interview_id=interview.id))
    flash("The interview is yours to hold. It is in My returns.", "success")
    return redirect(url_for("interviews.show", interview_id=interview.id))


@bp.route("/interviews/<interview_id>/pass-on", methods=["POST"])
@roles_required(Role.SOCIAL_WORKER)
def pass_on(interview_id: str):
    interview = service.read_interview(current_user, interview_id)
    form = PassOnForm()
    form.worker_id.choices = _pass_on_choices()
    if form.validate_on_submit():
        try:
            service.pass_on(current_user, interview, form.worker_id.data or None)
        except RuleError as err:
            form.worker_id.errors = [err.message]
        else:
            to = interview.allocated_to.name if interview.allocated_to else "the team"
            flash(f"Passed to {to}.", "success")
            return redirect(url_for("children.show", child_id=interview.child_id))
    elif form.worker_id.errors:
        form.worker_id.errors = ["Choose a return interview worker from the list"]
    return _render_show(interview, pass_on_form=form, status=422)


@bp.route("/interviews/<interview_id>/review", methods=["POST"])
@roles_required(Role.MANAGER)
def review(interview_id: str):
    interview = service.read_interview(current_user, interview_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _render_show(interview, review_form=form, status=422)
    try:
        if request.form.get("decision") == "authorise":
            service.authorise(current_user, interview)
            flash("Interview authorised.", "success")
        else:
            service.send_back(current_user, interview, form.note.data or "")
            flash("Interview sent back to the worker.", "success")
    except RuleError as err:
        form.note.errors.append(err.message)
        return _render_show(interview, review_form=form, status=422)
    return redirect(url_for("interviews.show", interview_id=interview.id))


@bp.route("/interviews/<interview_id>/forwarded", methods=["POST"])
@roles_required(Role.MANAGER)
def forwarded(interview_id: str):
    interview = service.read_interview(current_user, interview_id)
    form = ForwardForm()
    if form.validate_on_submit():
        try:
            service.record_forwarded(current_user, interview, form.forwarded_at.data)
        except RuleError as err:
            form.forwarded_at.errors.append(err.message)
        else:
            flash("Recorded as forwarded to the police.", "success")
            return redirect(url_for("interviews.show", interview_id=interview.id))
    return _render_show(interview, forward_form=form, status=422)


@bp.route("/interviews/<interview_id>/police-copy")
@roles_required(Role.MANAGER)
def police_copy(interview_id: str):
    """The intelligence section only, to print (or save as PDF) and send to the police; the
    sending is then recorded on the same page."""
    interview = service.read_interview(current_user, interview_id)
    try:
        copy = service.police_copy(current_user, interview)
    except RuleError as err:
        flash(err.message, "info")
        return redirect(url_for("interviews.show", interview_id=interview.id))
    return render_template(
        "interviews/police_copy.html",
        forward_form=ForwardForm(),
        QUESTIONS=QUESTIONS,
        **copy,
    )


@bp.route("/interviews/<interview_id>/appointment", methods=["POST"])
@roles_required(Role.WORKER, Role.MANAGER)
def arrange(interview_id: str):
    """Arrange, re-arrange or cancel the appointment (the allocated worker or a manager)."""
    interview = service.read_interview(current_user, interview_id)
    if not service.may_arrange(current_user, interview):
        raise NotFound
    form = ArrangeForm()
    # Cancelling ignores what is in the boxes (CSRF is checked app-wide before any view).
    cancel = request.form.get("cancel") == "1"
    if cancel or form.validate_on_submit():
        if not cancel and form.appointment_at.data is None:
            form.appointment_at.errors = ["Enter the date and time of the interview"]
        else:
            try:
                service.arrange(
                    current_user,
                    interview,
                    None if cancel else form.appointment_at.data,
                    None if cancel else form.place.data,
                )
            except RuleError as err:
                field = err.field if err.field in form else "appointment_at"
                form[field].errors = [*form[field].errors, err.message]
            else:
                flash("Appointment cancelled." if cancel else "Interview arranged.", "success")
                return redirect(url_for("interviews.show", interview_id=interview.id))
    return _render_show(interview, arrange_form=form, status=422)
