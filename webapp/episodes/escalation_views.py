"""The casework pages of an episode: an escalation's "Record action" (escalations.py) and a
correction of the episode's facts (corrections.py). Thin: the rules are in those modules."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp import access
from webapp.accounts.models import Role
from webapp.episodes import corrections, escalations, service, tasks
from webapp.episodes.forms import EpisodeCorrectionForm, WithdrawForm, escalation_form
from webapp.errors import NotAllowed, NotFound, RuleError
from webapp.formfields import seen_at
from webapp.security import roles_required
from webapp.templating import iso
from webapp.urls import safe_local_path

bp = Blueprint("escalations", __name__)


@bp.route("/episodes/<episode_id>/escalations/<code>", methods=["GET", "POST"])
@roles_required(Role.MANAGER, Role.SOCIAL_WORKER, Role.IRO)
def record(episode_id: str, code: str):
    try:
        episode, task = escalations.action_form(current_user, episode_id, code)
    except NotAllowed:
        raise NotFound from None  # another's task: as if it were not there
    back = safe_local_path(request.values.get("next")) or url_for(
        "episodes.show", episode_id=episode.id
    )
    form = escalation_form(code)
    # Validated even when already done: a second person's record meanwhile is refused in
    # words (the service's), with what they typed kept on the page.
    if form.validate_on_submit():
        data = {k: getattr(form, k).data for k in ("kind", "done_at", "who", "note")}
        try:
            escalations.record_action(current_user, episode, code, data)
        except RuleError as err:
            target = getattr(form, err.field, None) if err.field else None
            (target.errors if target is not None else form.form_errors).append(err.message)
        else:
            flash(f"{task.escalation.title}: recorded. The task is closed.", "success")
            return redirect(back)
    status = 422 if form.is_submitted() else 200
    page = render_template(
        "episodes/escalation_action.html",
        episode=episode,
        child=episode.child,
        task=task,
        owner=escalations.owner_of(episode, code),
        recorded=escalations.read_action(current_user, episode, code) if task.action else None,
        form=form,
        back=back,
    )
    return page, status


@bp.app_template_global()
def can_act_on_escalation(child, code: str) -> bool:
    """Whether the signed-in person records this task (no query: access rules only)."""
    return access.can_act_on_escalation(current_user, child, code)


@bp.app_template_filter("escalation_kind")
def escalation_kind(kind: str, code: str) -> str:
    return tasks.kind_label(code, kind)


@bp.route("/episodes/<episode_id>/correct", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def correct(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    if request.method == "POST":
        form = EpisodeCorrectionForm()
    else:
        form = EpisodeCorrectionForm(data=_correction_data(episode))
    if form.validate_on_submit():
        seen = seen_at(form.seen.data)
        names = ("reported_type", "last_seen_at", "returned_at", "found_place", "reason")
        data = {k: getattr(form, k).data for k in names}
        try:
            change = corrections.correct_episode(current_user, episode, data, seen=seen)
        except RuleError as err:
            target = getattr(form, err.field, None) if err.field else None
            (target.errors if target is not None else form.form_errors).append(err.message)
        else:
            flash("Correction saved." if change else "Nothing was changed.", "success")
            return redirect(url_for("episodes.show", episode_id=episode.id))
    return _correct_page(episode, form=form, status=422 if form.is_submitted() else 200)


def _correct_page(episode, *, form=None, withdraw_form=None, status=200):
    if withdraw_form is None and episode.status != "withdrawn":
        withdraw_form = WithdrawForm(data={"seen": iso(episode.updated_at)})
    page = render_template(
        "episodes/correct.html",
        episode=episode,
        child=episode.child,
        form=form,
        withdraw_form=withdraw_form,
    )
    return page, status


@bp.route("/episodes/<episode_id>/withdraw", methods=["POST"])
@roles_required(Role.MANAGER)
def withdraw(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            corrections.withdraw_episode(
                current_user, episode, form.withdraw_reason.data, seen=seen_at(form.seen.data)
            )
        except RuleError as err:
            target = getattr(form, err.field, None) if err.field else None
            (target.errors if target is not None else form.form_errors).append(err.message)
        else:
            flash("Episode withdrawn. It counts for nothing now; its history says why.", "success")
            return redirect(url_for("episodes.show", episode_id=episode.id))
    correction = EpisodeCorrectionForm(data=_correction_data(episode))
    return _correct_page(episode, form=correction, withdraw_form=form, status=422)


def _correction_data(episode) -> dict:
    return {
        "reported_type": episode.reported_type,
        "last_seen_at": episode.last_seen_at,
        "returned_at": episode.returned_at,
        "found_place": episode.found_place,
        "seen": iso(episode.updated_at),
    }
