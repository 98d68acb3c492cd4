"""Turning a photo a phone cannot open itself (a HEIC in Chromium) into the JPEG it keeps.

Field mode shrinks JPEG and PNG photos on the phone (static/js/photo.js), which also drops their
EXIF and GPS. A HEIC photo the browser cannot decode comes here while there is signal: the server
decodes it with the same code that processes every stored photo (carers/photos.py) and answers
the JPEG. Nothing is stored or logged: the phone keeps the answer, encrypted, in the profile it
sends. Only carers use it (their phones keep the profiles); the web form takes HEIC itself.
"""

from __future__ import annotations

import base64

from flask import Blueprint, jsonify, request

from webapp.accounts.models import Role
from webapp.carers import photos
from webapp.security import roles_required

bp = Blueprint("photos", __name__)


@bp.route("/photos/convert", methods=["POST"])
@roles_required(Role.CARER)  # only a carer's field mode converts photos
def convert():
    # The app's usual 5 MB body limit is for forms; a phone's photo may be up to MAX_BYTES.
    request.max_content_length = photos.MAX_BYTES + 64 * 1024
    data = request.get_data(cache=False)
    try:
        jpeg = photos.process(data)
    except photos.PhotoError as err:
        return jsonify(error="invalid_photo", message=err.message), 422
    return jsonify(jpeg=base64.b64encode(jpeg).decode())
