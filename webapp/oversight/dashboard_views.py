"""The figures page (/manage/figures): the dashboard's numbers, charts, their tables as CSV, and
the children behind each number.

Addresses carry only a figure's name, the period's code and the filters' codes (a team's id at
most), never anything naming a child; the drill-down lists the children under the access rules
and links to their pages.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, Response, render_template, request
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.db_types import utcnow
from webapp.errors import NotFound, RuleError
from webapp.oversight import charts, factors, figures
from webapp.oversight.csvsafe import rows_to_csv
from webapp.security import roles_required

bp = Blueprint("figures", __name__, url_prefix="/manage/figures")
READERS = (Role.MANAGER, Role.SENIOR_MANAGER)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    factors.init_app(app)


def _period_code(args) -> str | None:
    """The period's code; a "Between dates" choice becomes a range code from its two dates."""
    code = args.get("period") or None
    if code == "range":
        try:
            first = date.fromisoformat(args.get("from") or "")
            last = date.fromisoformat(args.get("to") or "")
        except ValueError:
            raise RuleError(
                "from", "Enter the start and end dates, for example 2026-03-01"
            ) from None
        return figures.range_period(first, last).code
    return code


def _choice(args, now):
    period = figures.parse_period(_period_code(args), now)
    filters = figures.parse_filters(
        current_user, args.get("team"), args.get("placement"), args.get("age")
    )
    return period, filters


def _link_params(period, filters) -> dict[str, str]:
    return {"period": period.code, **filters.params()}


@bp.route("/")
@roles_required(*READERS)
def page():
    now = utcnow()
    error = None
    try:
        period, filters = _choice(request.args, now)
    except RuleError as exc:
        error = exc
        period, filters = figures.default_period(now), figures.Filters()
    result = figures.figures(current_user, period, filters, now)
    return render_template(
        "oversight/figures.html",
        f=result,
        error=error,
        params=_link_params(period, filters),
        choices=figures.period_choices(now),
        teams=figures.teams_of(current_user),
        placements=figures.PLACEMENTS,
        age_bands=figures.AGE_BANDS,
        typed={k: request.args.get(k, "") for k in ("period", "from", "to")},
        trend_svg=charts.trend_chart(result.trend),
        timeliness_svg=charts.timeliness_chart(result.trend, result.timeliness.national),
        factors_svg=charts.factors_chart(result.factors.rows),
        factor_label=charts.factor_label,
        percent=figures.percent,
    ), (422 if error else 200)


def _behind(now):
    try:
        period, filters = _choice(request.args, now)
    except RuleError:
        raise NotFound from None
    figure, key = request.args.get("figure", ""), request.args.get("key", "")
    return figures.children_behind(current_user, figure, key, period, filters, now), period, filters


@bp.route("/children")
@roles_required(*READERS)
def children():
    behind, period, filters = _behind(utcnow())
    params = _link_params(period, filters)
    return render_template(
        "oversight/figures_children.html",
        behind=behind,
        params=params,
        csv_params={**params, "figure": behind.figure, "key": behind.key},
        filters=filters,
        placements=figures.PLACEMENTS,
        age_bands=figures.AGE_BANDS,
        teams={t.id: t.name for t in figures.teams_of(current_user)},
    )


def _csv(name: str, header, rows) -> Response:
    return Response(
        rows_to_csv(header, rows),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/children.csv")
@roles_required(*READERS)
def children_csv():
    behind, period, _filters = _behind(utcnow())
    figures.record_export(behind)
    return _csv(
        f"children-{behind.figure}-{behind.key if behind.figure != 'team' else 'team'}-"
        f"{period.code}",
        ["Child", "Authority identifier", behind.unit],
        [(r.full_name, r.authority_child_id, r.count) for r in behind.rows],
    )


@bp.route("/<table>.csv")
@roles_required(*READERS)
def table_csv(table: str):
    now = utcnow()
    try:
        period, filters = _choice(request.args, now)
    except RuleError:
        raise NotFound from None
    result = figures.figures(current_user, period, filters, now)
    header, rows = figures.table_rows(result, table)
    return _csv(f"figures-{table}-{period.code}", header, rows)
