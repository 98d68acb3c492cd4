"""The DSL's absence pages: record an absence, the register follow-up, enquiries, the
always-refer checklist and referral, a pupil missing in the school day, the pupil's timeline.

Thin: the service (webapp.schools.absences) checks who may and the rules. URLs carry ids and
dates only; page titles carry no names."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp import access
from webapp.accounts.models import Role
from webapp.episodes.forms import report_data
from webapp.errors import RuleError
from webapp.schools import absences as service
from webapp.schools.absence_forms import (
    REGISTER_CHOICES,
    REGISTER_NOTHING,
    AbsenceForm,
    ChecklistForm,
    CloseForm,
    EnquiryForm,
    FactsForm,
    NotifyForm,
    ReferralForm,
    RegisterForm,
    SchoolMissingForm,
)
from webapp.schools.absence_models import (
    ATTENDANCE_CODES,
    NO_REASON_YET,
    NOTIFICATION_KIND_LABELS,
    REFERRED_TO_LABELS,
)
from webapp.security import roles_required

bp = Blueprint("school_absences", __name__)


@bp.app_template_global()
def school_actions(child) -> dict:
    """What the pupil's page offers their school's DSL (no query: access rules only)."""
    if not current_user.is_authenticated or not access.can_record_absence(current_user, child):
        return {"links": []}
    return {
        "links": [
            ("Record an absence", url_for("school_absences.new", child_id=child.id)),
            (
                "Absence follow-up and timeline",
                url_for("school_absences.timeline", child_id=child.id),
            ),
            (
                "Report missing during the school day",
                url_for("school_absences.missing", child_id=child.id),
            ),
            ("Morning register follow-up", url_for("school_absences.register")),
        ]
    }


def _apply(form, fn, *args, **kwargs):
    """Run a service call; a broken rule shows beside its field (or above the form)."""
    try:
        return fn(*args, **kwargs)
    except RuleError as err:
        target = form[err.field] if err.field and err.field in form else None
        (target.errors if target is not None else form.form_errors).append(err.message)
        return None


def _timeline_url(followup):
    return url_for("school_absences.timeline", child_id=followup.child_id)


@bp.route("/school/pupils/<child_id>/absences/new", methods=["GET", "POST"])
@roles_required(Role.DSL)
def new(child_id: str):
    child = service.read_pupil(current_user, child_id)
    form = AbsenceForm()
    if request.method == "GET":
        form.on.data = service.today()
        form.sessions.data = ["am"]
    if form.validate_on_submit() and _apply(
        form,
        service.record_absence,
        current_user,
        child,
        form.on.data,
        form.sessions.data,
        form.code.data,
    ):
        flash("Absence recorded.", "success")
        return redirect(url_for("school_absences.timeline", child_id=child.id))
    status = 422 if form.is_submitted() else 200
    return render_template("schools/absence_new.html", form=form, child=child), status


def _register_date() -> date:
    try:
        return date.fromisoformat(request.args.get("on", ""))
    except ValueError:
        return service.today()


@bp.route("/school/register", methods=["GET", "POST"])
@roles_required(Role.DSL)
def register():
    pupils = service.school_pupils(current_user)
    form = RegisterForm()
    row_errors: dict[str, str] = {}
    if request.method == "GET":
        form.on.data = _register_date()
        form.session.data = (
            request.args.get("session") if request.args.get("session") in ("am", "pm") else "am"
        )
        existing = service.register_codes(current_user, form.on.data, form.session.data)
        chosen = {p.id: existing.get(p.id, REGISTER_NOTHING) for p in pupils}
        return render_template(
            "schools/register.html",
            form=form,
            pupils=pupils,
            chosen=chosen,
            row_errors=row_errors,
            choices=REGISTER_CHOICES,
        )
    chosen = {p.id: request.form.get(f"code-{p.id}", REGISTER_NOTHING) for p in pupils}
    if form.validate_on_submit():
        codes = {}
        for pupil_id, value in chosen.items():
            if value == REGISTER_NOTHING:
                continue
            codes[pupil_id] = value
        try:
            saved = service.record_register(current_user, form.on.data, [form.session.data], codes)
        except service.RegisterErrors as err:
            row_errors = err.errors
            form.form_errors.append("Some pupils' codes could not be saved: nothing was saved")
        except RuleError as err:
            target = form[err.field] if err.field in ("on",) else None
            (target.errors if target is not None else form.form_errors).append(err.message)
        else:
            flash(f"Register saved: {len(saved)} sessions recorded.", "success")
            return redirect(
                url_for(
                    "school_absences.register",
                    on=form.on.data.isoformat(),
                    session=form.session.data,
                )
            )
    return render_template(
        "schools/register.html",
        form=form,
        pupils=pupils,
        chosen=chosen,
        row_errors=row_errors,
        choices=REGISTER_CHOICES,
    ), 422


@bp.route("/school/pupils/<child_id>/timeline")
@roles_required(Role.DSL)
def timeline(child_id: str):
    child = service.read_pupil(current_user, child_id)
    followup_id = request.args.get("followup")
    result = service.pupil_timeline(current_user, child, followup_id)
    return _render_timeline(result)


def _render_timeline(result, facts_form=None, close_form=None, status=200):
    followup = result.followup
    return render_template(
        "schools/pupil_timeline.html",
        t=result,
        child=result.child,
        followup=followup,
        notify_form=NotifyForm(),
        facts_form=facts_form or (FactsForm(obj=followup) if followup else None),
        close_form=close_form or CloseForm(),
        timeline_kinds=service.TIMELINE_KINDS,
        kind_labels=NOTIFICATION_KIND_LABELS,
        referred_to_labels=REFERRED_TO_LABELS,
        recent=service.recent_absences(result.child),
        codes=ATTENDANCE_CODES,
        no_reason_yet=NO_REASON_YET,
    ), status


@bp.route("/school/followups/<followup_id>/notify/<kind>", methods=["POST"])
@roles_required(Role.DSL)
def notify(followup_id: str, kind: str):
    followup = service.read_followup(current_user, followup_id)
    form = NotifyForm()
    if kind not in service.TIMELINE_KINDS:
        abort(404)
    if form.validate_on_submit():
        try:
            service.notify(current_user, followup, kind)
        except RuleError as err:
            flash(err.message, "error")
        else:
            flash(f"{NOTIFICATION_KIND_LABELS[kind]}: recorded.", "success")
    return redirect(_timeline_url(followup))


@bp.route("/school/followups/<followup_id>/facts", methods=["POST"])
@roles_required(Role.DSL)
def facts(followup_id: str):
    followup = service.read_followup(current_user, followup_id)
    form = FactsForm()
    if form.validate_on_submit() and _apply(
        form,
        service.set_followup_facts,
        current_user,
        followup,
        illness=form.illness.data,
        whereabouts_unknown=form.whereabouts_unknown.data,
    ):
        flash("Saved.", "success")
        return redirect(_timeline_url(followup))
    result = service.pupil_timeline(current_user, followup.child, followup.id)
    return _render_timeline(result, facts_form=form, status=422)


@bp.route("/school/followups/<followup_id>/close", methods=["POST"])
@roles_required(Role.DSL)
def close(followup_id: str):
    followup = service.read_followup(current_user, followup_id)
    form = CloseForm()
    if form.validate_on_submit() and _apply(
        form, service.close_followup, current_user, followup, form.reason.data
    ):
        flash("Follow-up closed.", "success")
        return redirect(_timeline_url(followup))
    result = service.pupil_timeline(current_user, followup.child, followup.id)
    return _render_timeline(result, close_form=form, status=422)


@bp.route("/school/followups/<followup_id>/enquiries/new", methods=["GET", "POST"])
@roles_required(Role.DSL)
def enquiry(followup_id: str):
    followup = service.read_followup(current_user, followup_id)
    form = EnquiryForm()
    if form.validate_on_submit() and _apply(
        form,
        service.log_enquiry,
        current_user,
        followup,
        {
            "kind": form.kind.data,
            "at": form.at.data,
            "outcome": form.outcome.data,
            "seen_safe": form.seen_safe.data,
        },
    ):
        flash(
            "Enquiry saved." + (" Follow-up closed: seen safe." if form.seen_safe.data else ""),
            "success",
        )
        return redirect(_timeline_url(followup))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "schools/absence_enquiry.html", form=form, followup=followup, child=followup.child
    ), status


@bp.route("/school/followups/<followup_id>/checklist", methods=["GET", "POST"])
@roles_required(Role.DSL)
def checklist(followup_id: str):
    followup = service.read_followup(current_user, followup_id)
    form = ChecklistForm()
    if request.method == "GET":
        for key, value in service.checklist_defaults(followup.child).items():
            form[key].data = value
    if form.validate_on_submit():
        answers = {
            key: form[key].data for key in (*service.ALWAYS_REFER, *service.FURTHER_QUESTIONS)
        }
        answers["notes"] = form.notes.data
        referral = _apply(form, service.answer_checklist, current_user, followup, answers)
        if referral:
            if referral.any_yes:
                return redirect(url_for("school_absences.referral", referral_id=referral.id))
            flash("Checklist saved: no condition calls for a referral.", "success")
            return redirect(_timeline_url(followup))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "schools/absence_checklist.html",
        form=form,
        followup=followup,
        child=followup.child,
        always=service.ALWAYS_REFER,
        further=service.FURTHER_QUESTIONS,
    ), status


@bp.route("/school/referrals/<referral_id>", methods=["GET", "POST"])
@roles_required(Role.DSL)
def referral(referral_id: str):
    referral = service.read_referral(current_user, referral_id)
    followup = referral.followup
    form = ReferralForm()
    if form.validate_on_submit() and _apply(
        form,
        service.record_referral,
        current_user,
        referral,
        {
            "referred_to": form.referred_to.data,
            "referred_at": form.referred_at.data,
            "reference": form.reference.data,
        },
    ):
        told = service.social_worker_told(followup.child)
        flash(
            "Referral recorded." + (" The child's social worker is told." if told else ""),
            "success",
        )
        return redirect(_timeline_url(followup))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "schools/absence_referral.html",
        form=form,
        referral=referral,
        followup=followup,
        child=followup.child,
        tell_social_worker=service.social_worker_told(followup.child),
    ), status


@bp.route("/school/pupils/<child_id>/missing", methods=["GET", "POST"])
@roles_required(Role.DSL)
def missing(child_id: str):
    child = service.read_pupil(current_user, child_id)
    form = SchoolMissingForm()
    if form.validate_on_submit():
        episode = _apply(
            form, service.report_missing_in_school_day, current_user, child, report_data(form)
        )
        if episode:
            flash("Reported missing from school. The authority sees it now.", "success")
            return redirect(url_for("episodes.show", episode_id=episode.id))
    status = 422 if form.is_submitted() else 200
    return render_template("schools/absence_missing.html", form=form, child=child), status
