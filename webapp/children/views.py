from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp import access
from webapp.accounts.models import Role
from webapp.carers import plans
from webapp.children import service
from webapp.children.forms import ChildEditForm, ChildForm, ChildSearchForm
from webapp.db_types import utcnow
from webapp.episodes import escalations
from webapp.episodes import service as episodes
from webapp.errors import RuleError
from webapp.formfields import seen_at
from webapp.interviews import service as interviews
from webapp.interviews import workflow
from webapp.security import login_required, roles_required
from webapp.templating import iso

bp = Blueprint("children", __name__, url_prefix="/children")


@bp.route("/", methods=["GET", "POST"])
@roles_required(*access.CHILDREN_READERS)
def index():
    # The search is posted, never put in the address: what is typed may be a child's name, and
    # addresses are kept in browser history and server logs.
    form = ChildSearchForm()
    query = form.q.data if form.validate_on_submit() else None
    children, more = service.find_children(current_user, query)
    return render_template(
        "children/index.html", children=children, more=more, form=form, searched=bool(query)
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def new():
    form = ChildForm()
    form.set_choices(service.choices_for(current_user))
    status = 200
    if form.validate_on_submit():
        data = form.data | {f: True for f in form.flags.data}
        try:
            child = service.create_child(current_user, data)
        except RuleError as err:
            form[err.field].errors.append(err.message)
            status = 422
        else:
            # Generic: flash messages travel in the session cookie, which is signed, not secret.
            flash("Child added.", "success")
            return redirect(url_for("children.show", child_id=child.id))
    elif form.is_submitted():
        status = 422
    return render_template("children/new.html", form=form), status


@bp.route("/<child_id>/edit", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def edit(child_id: str):
    child = service.read_child(current_user, child_id)
    # Drawn from the record; a post is read as sent (what was typed stays on a problem).
    form = ChildEditForm() if request.method == "POST" else ChildEditForm(data=_form_data(child))
    form.set_choices(service.edit_choices_for(current_user))
    status = 200
    if form.validate_on_submit():
        seen = seen_at(form.seen.data)
        try:
            change = service.update_child(current_user, child, form.data, seen=seen)
        except RuleError as err:
            target = form[err.field] if err.field and err.field in form else None
            (target.errors if target is not None else form.form_errors).append(err.message)
            status = 422
        else:
            flash("Changes saved." if change else "Nothing was changed.", "success")
            return redirect(url_for("children.show", child_id=child.id))
    elif form.is_submitted():
        status = 422
    return render_template("children/edit.html", form=form, child=child), status


def _form_data(child) -> dict:
    data = {name: getattr(child, name) for name in service.EDITABLE if name != "flags"}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data["flags"] = [key for key, on in child.sealed_flags.items() if on]
    data["seen"] = iso(child.updated_at)
    return data


def _open_step(child, now):
    episode = episodes.open_episode(child)
    if episode is None or not access.can_keep_profile(current_user, child):
        return None
    return plans.step_for(episode, now)


@bp.route("/<child_id>")
@login_required
def show(child_id: str):
    child = service.read_child(current_user, child_id)
    now = utcnow()
    history = service.history(child)
    shown = service.visible_episodes(current_user, child)
    actions = escalations.actions_of(e.id for e in shown)
    # Each episode's escalations as tasks: open, done, or closed with why (its history).
    episode_rows = [(e, escalations.episode_tasks(e, now, actions.get(e.id, {}))) for e in shown]
    interview_rows = service.visible_interviews(current_user, child)
    return render_template(
        "children/show.html",
        child=child,
        episode_rows=episode_rows,
        # Open first, the most urgent at the top (overdue, then due soon); finished work last.
        interviews=[
            (i, interviews.clock(i, now))
            for i in sorted(
                interview_rows,
                key=lambda i: (
                    i.status not in workflow.OPEN_STATUSES,
                    i.due_at if i.status in workflow.OPEN_STATUSES else -i.due_at.timestamp(),
                ),
            )
        ],
        appointments=interviews.appointments(current_user, child),
        # The plan's next step for a child not back (carers and those who keep the plan).
        step=_open_step(child, now),
        flags=service.deadlines.child_flags(history, now, service.thresholds()),
        can_manage=access.can_manage(current_user),
        # The corrections of the record, with what each said before and after: managers only.
        changes=service.changes_of(child) if access.can_manage(current_user) else [],
        field_labels=service.FIELD_LABELS,
        now=now,
    )
