"""The risk assessment and action plan, online (filled in by its owner)."""

from flask import Blueprint

bp = Blueprint("plans", __name__)
