"""The standing profile, its photo and the police handover, online (filled in by its owner)."""

from flask import Blueprint

bp = Blueprint("carers", __name__)
