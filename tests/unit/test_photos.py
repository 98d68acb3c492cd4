"""The child's photo: real files made here, judged by content, and nothing but pixels kept."""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
import pytest
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

from webapp.carers import photos
from webapp.carers.photos import PhotoError

CANARY = "CANARY-7f3a-photo"


def _jpeg(size=(640, 480), colour=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG", **save)
    return out.getvalue()


def _exif_with_gps_and_canary(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = CANARY
    exif[ExifTags.Base.Make] = "CanaryPhone"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    gps = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (51.0, 30.0, 12.5),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (0.0, 7.0, 39.9),
    }
    exif[ExifTags.IFD.GPSInfo] = gps
    return exif


def _clean(out: bytes) -> Image.Image:
    """Open the output and check it carries nothing but pixels."""
    assert out[:3] == b"\xff\xd8\xff"
    assert CANARY.encode() not in out
    assert b"CanaryPhone" not in out
    assert b"Exif\x00\x00" not in out  # no APP1 EXIF segment at all
    assert b"http://ns.adobe.com/xap/1.0/" not in out  # no XMP
    image = Image.open(io.BytesIO(out))
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert dict(image.getexif()) == {}
    for key in ("exif", "xmp", "icc_profile", "comment"):
        assert key not in image.info, key
    return image


def test_jpeg_loses_exif_gps_xmp_and_comment():
    exif = _exif_with_gps_and_canary()
    data = _jpeg(
        exif=exif.tobytes(),
        xmp=f"<x:xmpmeta>{CANARY}</x:xmpmeta>".encode(),
        comment=CANARY.encode(),
    )
    # The test file really carries them, so the check below can fail.
    before = Image.open(io.BytesIO(data))
    assert before.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert data.count(CANARY.encode()) >= 3

    image = _clean(photos.process(data))
    assert image.size == (640, 480)  # small enough already: not enlarged
    assert image.getpixel((10, 10))[0] > 150  # still the red picture


def test_png_text_chunks_are_gone_and_transparency_is_white():
    info = PngInfo()
    info.add_text("Description", CANARY)
    info.add_text("Comment", CANARY, zip=True)
    info.add_itxt("XML:com.adobe.xmp", CANARY)
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    image.paste((10, 120, 10, 255), (0, 0, 150, 200))
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    data = out.getvalue()
    assert CANARY.encode() in data

    result = _clean(photos.process(data))
    assert result.size == (300, 200)
    assert result.getpixel((250, 100)) > (240, 240, 240)  # transparent became white, not black
    assert result.getpixel((50, 100))[1] > 90


def test_heic_from_a_phone_is_decoded_and_cleaned():
    pillow_heif.register_heif_opener()
    exif = _exif_with_gps_and_canary()
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (20, 40, 220)).save(
        out, format="HEIF", quality=90, exif=exif.tobytes()
    )
    data = out.getvalue()
    assert data[4:12] == b"ftypheic"
    assert CANARY.encode() in data

    image = _clean(photos.process(data))
    assert image.size == (400, 300)
    red, green, blue = image.getpixel((200, 150))
    assert blue > 180 and red < 60


def test_exif_orientation_is_applied():
    # Left half red, right half blue, stored sideways with "rotate 90 clockwise to view" (6).
    picture = Image.new("RGB", (400, 200), (220, 0, 0))
    picture.paste((0, 0, 220), (200, 0, 400, 200))
    out = io.BytesIO()
    picture.save(out, format="JPEG", exif=_exif_with_gps_and_canary(orientation=6).tobytes())

    image = _clean(photos.process(out.getvalue()))
    assert image.size == (200, 400)  # upright now
    top, bottom = image.getpixel((100, 20)), image.getpixel((100, 380))
    assert top[0] > 150 and top[2] < 80  # the red half is at the top after turning clockwise
    assert bottom[2] > 150 and bottom[0] < 80


def test_large_photo_is_resized_to_max_side():
    image = _clean(photos.process(_jpeg(size=(3000, 2000), quality=70)))
    assert image.size == (photos.MAX_SIDE, 683)


def test_tall_png_is_resized_on_its_longest_side():
    out = io.BytesIO()
    Image.new("RGB", (500, 2048), (1, 2, 3)).save(out, format="PNG")
    assert _clean(photos.process(out.getvalue())).size == (250, photos.MAX_SIDE)


def _other(kind: str) -> bytes:
    if kind == "gif":
        out = io.BytesIO()
        Image.new("RGB", (20, 20)).save(out, format="GIF")
        return out.getvalue()
    if kind == "webp":
        out = io.BytesIO()
        Image.new("RGB", (20, 20)).save(out, format="WEBP")
        return out.getvalue()
    if kind == "pdf":
        out = io.BytesIO()
        Image.new("RGB", (20, 20)).save(out, format="PDF")
        return out.getvalue()
    if kind == "text":
        return b"Mia's description: tall, red coat\n"
    if kind == "avif":  # the HEIF container with an AV1 picture: no decoder here
        return struct.pack(">I", 24) + b"ftypavif" + b"\0\0\0\0" + b"avifmif1" + b"\0" * 64
    if kind == "svg":
        return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["gif", "webp", "pdf", "text", "avif", "svg"])
def test_other_files_are_refused_with_a_sentence(kind):
    with pytest.raises(PhotoError) as caught:
        photos.process(_other(kind))
    assert caught.value.message == photos.NOT_A_PHOTO
    assert "JPEG, PNG or HEIC" in caught.value.message


def test_content_decides_not_the_name():
    # A GIF is refused whatever it is called, and a PNG is taken whatever it is called: the
    # service only ever sees bytes, and the sniffer reads them.
    assert photos.sniff(_other("gif")) is None
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG")
    assert photos.sniff(out.getvalue()) == "PNG"
    assert photos.sniff(_jpeg()) == "JPEG"


def test_an_oversized_file_is_refused_before_it_is_decoded():
    padded = _jpeg() + b"\0" * (photos.MAX_BYTES)
    with pytest.raises(PhotoError) as caught:
        photos.process(padded)
    assert caught.value.message == photos.TOO_LARGE
    assert "8 MB" in caught.value.message


def test_exactly_max_bytes_is_still_accepted():
    data = _jpeg()
    padded = data + b"\0" * (photos.MAX_BYTES - len(data))  # trailing bytes after the image
    assert len(padded) == photos.MAX_BYTES
    _clean(photos.process(padded))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge picture (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(30_000, 30_000), (10_000, 7_000), (25_000, 10)])
def test_absurd_dimensions_are_refused_from_the_header(size):
    data = _png_claiming(*size)
    assert len(data) < 2000
    with pytest.raises(PhotoError) as caught:
        photos.process(data)
    assert caught.value.message == photos.TOO_MANY_PIXELS


def test_a_truncated_jpeg_is_refused():
    data = _jpeg(size=(800, 600))
    with pytest.raises(PhotoError) as caught:
        photos.process(data[: len(data) // 2])
    assert caught.value.message == photos.DAMAGED


def test_a_broken_png_is_refused():
    out = io.BytesIO()
    Image.new("RGB", (100, 100), (5, 6, 7)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    data[60:80] = b"\xff" * 20  # inside the compressed pixels: the CRC no longer matches
    with pytest.raises(PhotoError) as caught:
        photos.process(bytes(data))
    assert caught.value.message == photos.DAMAGED


def test_an_empty_file_is_refused():
    with pytest.raises(PhotoError) as caught:
        photos.process(b"")
    assert "empty" in caught.value.message


def test_photo_error_is_a_value_error_with_a_message():
    err = PhotoError("x")
    assert isinstance(err, ValueError)
    assert err.message == "x"
