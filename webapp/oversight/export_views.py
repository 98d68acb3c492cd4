"""The manager's statutory returns screen: check the SSDA903 Missing table, then download it or the
SSD missing extract.

Only the collection year ever goes in an address (GET ?year=2025); the files are POSTed for, so
no address holds anything about a child. The check comes first on the page: every record that
would still fail a DfE rule, with a link to the page that corrects it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from webapp import audit, uow
from webapp.accounts.models import Role
from webapp.db_types import utcnow
from webapp.deadlines import to_local
from webapp.oversight import exports, ssda903
from webapp.security import roles_required

bp = Blueprint("exports", __name__, url_prefix="/manage/exports")

# The years a manager may choose: the current one and the five before (the five years of
# records a large authority keeps here, and the one DfE is collecting).
YEARS_BACK = 5
# A year with thousands of failures (an authority that never recorded identifiers) lists the
# first ones and says how many more: the page stays usable and the count stays honest.
SHOWN_PROBLEMS = 200


def _years() -> list[ssda903.CollectionYear]:
    current = ssda903.collection_year_of(to_local(utcnow()).date())
    return [ssda903.CollectionYear(current.year - n) for n in range(YEARS_BACK + 1)]


def _chosen(value: str | None) -> ssda903.CollectionYear:
    years = _years()
    if not value:
        return years[0]
    for year in years:
        if str(year.year) == value:
            return year
    abort(404)


@bp.route("/")
@roles_required(Role.MANAGER)
def index():
    year = _chosen(request.args.get("year"))
    authority_id = current_user.authority_id
    result = exports.ssda903_return(authority_id, year)
    shown = result.failures[:SHOWN_PROBLEMS] + result.warnings[:SHOWN_PROBLEMS]
    children = exports.children_named({p.child_id for p in shown if p.child_id}, authority_id)
    # The check shows children's names and identifiers: one entry for the page, no content.
    audit.record("view", "ssda903_check", None, detail=f"collection year {year.label}")
    uow.commit()
    return render_template(
        "oversight/exports.html",
        year=year,
        years=_years(),
        result=result,
        failures=result.failures[:SHOWN_PROBLEMS],
        warnings=result.warnings[:SHOWN_PROBLEMS],
        more_failures=max(0, len(result.failures) - SHOWN_PROBLEMS),
        more_warnings=max(0, len(result.warnings) - SHOWN_PROBLEMS),
        children=children,
    )


def _download(export: exports.ExportFile, year: ssda903.CollectionYear) -> Response:
    stem = export.name.removesuffix(".csv")
    return Response(
        export.text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{stem}_{year.label}.csv"'},
    )


@bp.route("/ssda903", methods=["POST"])
@roles_required(Role.MANAGER)
def ssda903_download():
    year = _chosen(request.form.get("year"))
    export = exports.ssda903_file(current_user.authority_id, year, current_user)
    return _download(export, year)


@bp.route("/ssd-missing", methods=["POST"])
@roles_required(Role.MANAGER)
def ssd_download():
    year = _chosen(request.form.get("year"))
    export = exports.ssd_file(current_user.authority_id, year, current_user)
    return _download(export, year)
