from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp import access
from webapp.accounts.models import Role
from webapp.children import service as children
from webapp.db_types import utcnow
from webapp.episodes import corrections, escalations, service
from webapp.episodes.forms import (
    CarerEpisodeForm,
    EpisodeForm,
    NotesForm,
    PoliceForm,
    ReportForm,
    ReturnForm,
    carer_type_choices,
    report_data,
    return_details,
)
from webapp.episodes.models import (
    REPORT_FIELD_LABELS,
    REPORT_FIELDS,
    REPORTED_TYPE_LABELS,
    RETURN_FIELD_LABELS,
    RETURN_FIELDS,
)
from webapp.errors import NotFound, RuleError
from webapp.security import login_required, roles_required

bp = Blueprint("episodes", __name__)

# The carers' pages other parts build (profile, plan, police handover): linked from the child's
# page only once their endpoint is registered, so this page works before and after they land.
CARER_LINKS = (
    ("carers.profile", "Standing profile"),
    ("plans.show", "Risk assessment and action plan"),
    ("carers.handover", "Police handover"),
)


@bp.app_template_global()
def child_actions(child) -> dict:
    """What the signed-in person may do from a child's page (no query: access rules only)."""
    keep = access.can_keep_profile(current_user, child)
    links = [
        (text, url_for(endpoint, child_id=child.id))
        for endpoint, text in CARER_LINKS
        if keep and endpoint in current_app.view_functions
    ]
    return {"can_report": access.can_report(current_user, child), "links": links}


@bp.app_template_global()
def carer_noticed(interview) -> list:
    """What the carer noticed, for the interview page (whose view already checked the reader
    may read the interview's content); audited by the service."""
    return service.carer_notes_for(current_user, interview)


def _apply(form, fn, *args):
    """Run a service call; a rule broken by the facts shows beside its field. Returns the result
    or None."""
    try:
        return fn(*args)
    except RuleError as err:
        target = form[err.field] if err.field and err.field in form else None
        (target.errors if target is not None else form.form_errors).append(err.message)
        return None


def _require_report(child) -> None:
    # Seeing the child is not enough: only their carer or a manager reports (404 otherwise).
    if not access.can_report(current_user, child):
        raise NotFound


@bp.route("/children/<child_id>/episodes/new", methods=["GET", "POST"])
@roles_required(Role.MANAGER, Role.CARER)
def new(child_id: str):
    child = children.read_child(current_user, child_id)
    _require_report(child)
    if access.can_manage(current_user):
        form = EpisodeForm()
    else:
        form = CarerEpisodeForm()
        form.reported_type.choices = carer_type_choices(child.looked_after)
    if form.validate_on_submit():
        episode = _apply(form, service.report_missing, current_user, child, report_data(form))
        if episode:
            flash("Report saved.", "success")
            return redirect(url_for("episodes.show", episode_id=episode.id))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "episodes/new.html",
        form=form,
        child=child,
        carer_form=isinstance(form, CarerEpisodeForm),
        report_at_once=service.report_at_once(child),
    ), status


@bp.route("/episodes/<episode_id>")
@login_required
def show(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    return _render_show(episode)


def _report_form(episode, child):
    """The details police ask for, filled in from the episode (a carer's form, or a manager's
    with every type and without the police fields, which the manager's police form holds)."""
    details = service.report_details(episode)
    form = ReportForm(
        data={
            "reported_type": episode.reported_type,
            "due_back_at": episode.due_back_at,
            "reported_to_police_at": episode.reported_to_police_at,
            "police_log_number": episode.police_log_number,
            "circumstances": details["circumstances"],
        }
        | {name: details["report"].get(name, "") for name in REPORT_FIELDS}
    )
    _report_form_choices(form, child)
    return form


def _report_form_choices(form, child):
    if access.can_manage(current_user):
        form.reported_type.choices = [(k.value, v) for k, v in REPORTED_TYPE_LABELS.items()]
        del form.reported_to_police_at
        del form.police_log_number
    else:
        form.reported_type.choices = carer_type_choices(child.looked_after)


def _render_show(
    episode, police_form=None, return_form=None, report_form=None, notes_form=None, status=200
):
    child = episode.child
    can_manage = access.can_manage(current_user)
    can_report = access.can_report(current_user, child)
    # The details police were given and the carer's account of the return: for those who
    # report and those who keep the child's profile (the social worker too), never workers or
    # schools.
    details = (
        service.report_details(episode) if access.can_keep_profile(current_user, child) else None
    )
    is_open = episode.status == "missing"
    if can_report and is_open and report_form is None:
        report_form = _report_form(episode, child)
    if can_report and not is_open and notes_form is None:
        notes_form = NotesForm(data={"carer_notes": episode.carer_notes or ""})
    return (
        render_template(
            "episodes/show.html",
            episode=episode,
            child=child,
            escalations=escalations.episode_tasks(episode, utcnow()),
            # Corrections of the episode's facts, with their reasons: managers only.
            corrections=corrections.changes_of(episode) if can_manage else [],
            correction_labels=corrections.FIELD_LABELS,
            details=details,
            report_fields=REPORT_FIELDS,
            return_fields=RETURN_FIELDS,
            report_labels=REPORT_FIELD_LABELS,
            return_labels=RETURN_FIELD_LABELS,
            can_manage=can_manage,
            can_report=can_report,
            report_at_once=is_open and service.report_at_once(child),
            police_form=(police_form or PoliceForm(obj=episode)) if can_manage else None,
            return_form=(return_form or ReturnForm()) if can_report and is_open else None,
            report_form=report_form if can_report and is_open else None,
            # A refused note (the child not back yet) is shown with its reason, open or not.
            notes_form=notes_form
            if can_report and (notes_form is not None or not is_open)
            else None,
        ),
        status,
    )


@bp.route("/episodes/<episode_id>/police", methods=["POST"])
@roles_required(Role.MANAGER)
def police(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    form = PoliceForm()
    if form.validate_on_submit() and _apply(
        form, service.update_police, current_user, episode, form.data
    ):
        flash("Police details saved.", "success")
        return redirect(url_for("episodes.show", episode_id=episode.id))
    return _render_show(episode, police_form=form, status=422)


@bp.route("/episodes/<episode_id>/report", methods=["POST"])
@roles_required(Role.MANAGER, Role.CARER)
def report(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    _require_report(episode.child)
    form = ReportForm()
    _report_form_choices(form, episode.child)
    if form.validate_on_submit() and _apply(
        form, service.update_report, current_user, episode, report_data(form)
    ):
        flash("Details saved.", "success")
        return redirect(url_for("episodes.show", episode_id=episode.id))
    return _render_show(episode, report_form=form, status=422)


@bp.route("/episodes/<episode_id>/return", methods=["GET", "POST"])
@roles_required(Role.MANAGER, Role.CARER)
def record_return(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    _require_report(episode.child)
    form = ReturnForm()
    if form.validate_on_submit():
        interview = _apply(
            form,
            service.record_return,
            current_user,
            episode,
            form.returned_at.data,
            form.how_returned.data,
            return_details(form),
            form.found_place.data,
        )
        if interview:
            flash("Return recorded. The 72-hour return interview clock has started.", "success")
            if access.can_manage(current_user):
                return redirect(url_for("interviews.show", interview_id=interview.id))
            # Carers never read the interview: back to the episode, to add what they noticed.
            return redirect(url_for("episodes.show", episode_id=episode.id))
    if access.can_manage(current_user):
        # A manager records the return on the episode page, beside the police details.
        if not form.is_submitted():
            return redirect(url_for("episodes.show", episode_id=episode.id, _anchor="return"))
        return _render_show(episode, return_form=form, status=422)
    # "Report back" from the child's page: the return on a phone screen of its own.
    if not form.is_submitted() and episode.status != "missing":
        return redirect(url_for("episodes.show", episode_id=episode.id))
    status = 422 if form.is_submitted() else 200
    page = render_template("episodes/return.html", episode=episode, child=episode.child, form=form)
    return page, status


@bp.route("/episodes/<episode_id>/notes", methods=["POST"])
@roles_required(Role.MANAGER, Role.CARER)
def notes(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    _require_report(episode.child)
    form = NotesForm()
    if form.validate_on_submit() and _apply(
        form, service.save_carer_notes, current_user, episode, form.carer_notes.data
    ):
        flash("What you noticed is saved for the return interview.", "success")
        return redirect(url_for("episodes.show", episode_id=episode.id))
    return _render_show(episode, notes_form=form, status=422)
