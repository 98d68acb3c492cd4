from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp import access
from webapp.accounts.models import Role
from webapp.children import service as children
from webapp.db_types import utcnow
from webapp.episodes import service
from webapp.episodes.forms import EpisodeForm, PoliceForm, ReturnForm
from webapp.errors import RuleError
from webapp.security import login_required, roles_required

bp = Blueprint("episodes", __name__)


def _apply(form, fn, *args):
    """Run a service call; a rule broken by the facts shows beside its field. Returns the result
    or None."""
    try:
        return fn(*args)
    except RuleError as err:
        target = form[err.field] if err.field and err.field in form else None
        (target.errors if target is not None else form.form_errors).append(err.message)
        return None


@bp.route("/children/<child_id>/episodes/new", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def new(child_id: str):
    child = children.read_child(current_user, child_id)
    form = EpisodeForm()
    if form.validate_on_submit():
        episode = _apply(form, service.report_missing, current_user, child, form.data)
        if episode:
            flash("Episode recorded.", "success")
            return redirect(url_for("episodes.show", episode_id=episode.id))
    status = 422 if form.is_submitted() else 200
    return render_template("episodes/new.html", form=form, child=child), status


@bp.route("/episodes/<episode_id>")
@login_required
def show(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    return _render_show(episode)


def _render_show(episode, police_form=None, return_form=None, status=200):
    can_manage = access.can_manage(current_user)
    return (
        render_template(
            "episodes/show.html",
            episode=episode,
            child=episode.child,
            escalations=service.escalations(episode, utcnow()),
            circumstances=service.circumstances(episode) if can_manage else None,
            can_manage=can_manage,
            police_form=police_form or PoliceForm(obj=episode),
            return_form=return_form or ReturnForm(),
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


@bp.route("/episodes/<episode_id>/return", methods=["POST"])
@roles_required(Role.MANAGER)
def record_return(episode_id: str):
    episode = service.read_episode(current_user, episode_id)
    form = ReturnForm()
    if form.validate_on_submit():
        interview = _apply(
            form,
            service.record_return,
            current_user,
            episode,
            form.returned_at.data,
            form.how_returned.data,
        )
        if interview:
            flash("Return recorded. The 72-hour return interview clock has started.", "success")
            return redirect(url_for("interviews.show", interview_id=interview.id))
    return _render_show(episode, return_form=form, status=422)
