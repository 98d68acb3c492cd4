"""The child's recent photo: whatever a phone gives us, made into a small, clean JPEG.

A photo taken on a phone carries far more than the picture: EXIF with the GPS position it was
taken at (often the child's placement), the phone's make and serial, a caption, XMP, thumbnails
that may still show what was cropped out. None of that may reach the database, a police
handover or another phone, so the picture is decoded and re-encoded from its pixels alone.

Pure: no Flask, no database. The file is judged by its content, never by its name or the type
the browser declared (both are the sender's to choose).
"""

from __future__ import annotations

import io
import warnings

import pillow_heif
from PIL import Image, ImageCms, ImageOps

# Phones' HEIC/HEIF (iPhones save photos as HEIC by default). Registering is idempotent.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

MAX_BYTES = 8 * 1024 * 1024  # the file as chosen on the phone
MAX_SIDE = 1024  # px, longest side after resizing: enough to recognise a face, small to send
QUALITY = 85
# A 48-megapixel phone camera is 8064 x 6048; anything far beyond is not a photo of a child
# but a decompression bomb (a small file that decodes into gigabytes of pixels). Checked from
# the header, before a single pixel is decoded.
MAX_PIXELS = 60_000_000
MAX_DIMENSION = 20_000

NOT_A_PHOTO = "This file is not a photo Homeward can use: choose a JPEG, PNG or HEIC photo"
TOO_LARGE = "This photo is larger than 8 MB: choose a smaller photo"
TOO_MANY_PIXELS = "This photo is too large to use (over 60 megapixels): choose a smaller photo"
DAMAGED = (
    "This photo could not be opened: it may be damaged or only partly copied. "
    "Choose it again, or choose another photo"
)
EMPTY = "The chosen file is empty: choose a JPEG, PNG or HEIC photo"

# ISO BMFF brands of HEIF still images coded with HEVC (what phones write). AVIF shares the
# container but this build has no AV1 decoder, so it is refused as "not a photo we can use".
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_GENERIC = {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


class PhotoError(ValueError):
    """The file cannot be used as the child's photo; `message` is a sentence for the person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def sniff(data: bytes) -> str | None:
    """The Pillow format the bytes are ("JPEG", "PNG", "HEIF"), or None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[4:8] == b"ftyp":
        box_size = int.from_bytes(data[:4], "big")
        if 16 <= box_size <= min(len(data), 512):
            major = data[8:12]
            compatible = {data[i : i + 4] for i in range(16, box_size - 3, 4)}
            brands = {major} | compatible
            if brands & _HEIC_BRANDS:
                return "HEIF"
            if brands & _HEIF_GENERIC and not brands & _AVIF_BRANDS:
                return "HEIF"
    return None


def process(data: bytes) -> bytes:
    """JPEG, PNG or HEIC in; a JPEG of at most MAX_SIDE px out, upright, in sRGB, and carrying
    no metadata at all (no EXIF, GPS, XMP, comments, ICC profile or thumbnail). PhotoError
    otherwise."""
    if not data:
        raise PhotoError(EMPTY)
    if len(data) > MAX_BYTES:
        raise PhotoError(TOO_LARGE)
    kind = sniff(data)
    if kind is None:
        raise PhotoError(NOT_A_PHOTO)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; our own limit (below)
            # is lower still, so a warning here means a bomb.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                _check_dimensions(image.size)
                if kind == "JPEG":
                    # Decode at 1/2, 1/4 or 1/8 scale where that still leaves MAX_SIDE: a
                    # 12-megapixel photo then needs a sixteenth of the memory.
                    image.draft("RGB", (MAX_SIDE, MAX_SIDE))
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = _to_srgb(upright)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError(TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError):
        # Pillow's ways of saying "truncated", "broken chunk", "cannot identify": to the
        # person they all mean the file is not a usable photo.
        raise PhotoError(DAMAGED) from None

    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image holds the pixels and nothing else: `info` (EXIF, XMP, ICC, comments, PNG
    # text) stays behind with the decoded one, so the encoder has nothing to copy across.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


def _check_dimensions(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise PhotoError(DAMAGED)
    if width * height > MAX_PIXELS or max(width, height) > MAX_DIMENSION:
        raise PhotoError(TOO_MANY_PIXELS)


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB pixels in sRGB (a phone's Display P3 photo would look dull if its profile were just
    dropped); transparency is laid on white, as a printed page would show it."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(image.convert("RGB"), source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels as they are
    return image.convert("RGB")
