"""The standing profile, its photo and the police handover, online.

For the child's carer, social worker and a manager of the authority (access.can_keep_profile);
anyone else is answered "not found", as for any record they may not see.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from webapp import access
from webapp.accounts.models import Role
from webapp.carers import photos, profiles
from webapp.carers.forms import PHOTO_ACCEPT, ProfileForm
from webapp.errors import NotFound, RuleError
from webapp.security import roles_required

bp = Blueprint("carers", __name__)

PROFILE_ROLES = (Role.CARER, Role.SOCIAL_WORKER, Role.MANAGER)

# The app refuses bodies over 5 MiB (MAX_CONTENT_LENGTH, sized for a sync batch), but a photo
# may be 8 MB as chosen on the phone. Up to three times that is read here, so a photo that is
# too large is answered with its own sentence and the words typed beside it are kept; only a
# body beyond that is refused whole (413). Werkzeug spools the file to disk, not memory.
UPLOAD_LIMIT = 3 * photos.MAX_BYTES


@bp.url_value_preprocessor
def _photo_upload_limit(endpoint, values):
    # URL value preprocessors run before every before_request function, and the CSRF check
    # and the input guard read the form there: the limit must be raised before they do. Only
    # this blueprint's own routes pass through here.
    if endpoint == "carers.profile" and request.method == "POST":
        request.max_content_length = UPLOAD_LIMIT


def _chosen_photo(form: ProfileForm) -> bytes | None:
    storage = form.photo.data
    if storage is None or not getattr(storage, "filename", ""):
        return None  # no file chosen: the photo stays as it is
    # One byte past the limit is enough to say "too large" without reading the rest.
    return storage.read(photos.MAX_BYTES + 1)


@bp.route("/children/<child_id>/profile", methods=["GET", "POST"])
@roles_required(*PROFILE_ROLES)
def profile(child_id: str):
    child = access.get_child_or_404(current_user, child_id)
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            profiles.save_profile(
                current_user,
                child,
                form.profile_data(),
                photo=_chosen_photo(form),
                remove_photo=bool(form.remove_photo.data),
            )
        except photos.PhotoError as err:
            form.photo.errors = [*form.photo.errors, err.message]
        except RuleError as err:
            target = form[err.field] if err.field and err.field in form else None
            if target is not None:
                target.errors = [*target.errors, err.message]
            else:
                form.form_errors.append(err.message)
        else:
            flash("Profile saved.", "success")
            return redirect(url_for("carers.profile", child_id=child.id))
    kept = profiles.read_profile(current_user, child)
    if not form.is_submitted():
        form.process(data={**profiles.texts(kept), "review_due": kept.review_due})
    status = 422 if form.is_submitted() else 200
    return (
        render_template(
            "carers/profile.html",
            form=form,
            child=child,
            profile=kept,
            has_photo=kept.photo_enc is not None,
            review_overdue=bool(kept.review_due and kept.review_due < profiles.today()),
            photo_accept=PHOTO_ACCEPT,
            max_text=profiles.MAX_TEXT,
        ),
        status,
    )


@bp.route("/children/<child_id>/profile/photo")
@roles_required(*PROFILE_ROLES)
def photo(child_id: str):
    child = access.get_child_or_404(current_user, child_id)
    jpeg = profiles.read_photo(current_user, child)
    if jpeg is None:
        raise NotFound
    # A photo of a child must never sit in a browser's or a proxy's cache (security.py writes
    # this header from g; "private" for any cache that ignores no-store).
    g.cache_control = "no-store, private"
    response = Response(jpeg, mimetype="image/jpeg")
    response.headers["Content-Disposition"] = 'inline; filename="photo.jpg"'
    return response


@bp.route("/children/<child_id>/handover")
@roles_required(*PROFILE_ROLES)
def handover(child_id: str):
    child = access.get_child_or_404(current_user, child_id)
    return render_template("carers/handover.html", **profiles.handover(current_user, child))
