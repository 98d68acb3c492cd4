from flask import Blueprint, render_template
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.db_types import utcnow
from webapp.interviews import service as interviews
from webapp.interviews.forms import AllocateForm
from webapp.oversight import service
from webapp.security import roles_required

bp = Blueprint("oversight", __name__, url_prefix="/manage")


@bp.route("/")
@roles_required(Role.MANAGER)
def dashboard():
    board = service.dashboard(current_user, utcnow())
    workers = [("", "Choose a worker")] + [
        (w.id, w.name) for w in interviews.workers_for(current_user)
    ]
    forms = {}
    for interview, _clock in board.awaiting_allocation:
        form = AllocateForm(prefix=f"a{interview.id[:8]}")
        form.worker_id.choices = workers
        forms[interview.id] = form
    return render_template("oversight/dashboard.html", board=board, allocate_forms=forms)
