"""Evidence checks: each kind's validation and pass/fail rules. Raise ValidationError with a clear message."""

import base64
import binascii
import io
import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from cos.models.network import ont_serial_validator

THUMBNAIL_SIZE = (320, 320)
ALLOWED_IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


# Spaces people put between groups of digits ("1 000,5"): plain, no-break, narrow no-break and thin.
DIGIT_GROUP_SPACES = (" ", "\u00a0", "\u202f", "\u2009")
DECIMAL_TEXT = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")


def decimal_from_text(value, label: str) -> Decimal:
    """A number as a person types it: a decimal comma or point ("-2,5" or "-2.5"), spaces between digit groups
    ("1 000,5"), a typographic minus. Anything else (two separators, "1.000,5", letters) is refused, never guessed.

    Browsers send what was typed only from a text input: a type="number" input in an English locale reads the
    comma as a thousands separator and drops it, so "-2,5" arrives as -25.
    """
    if isinstance(value, Decimal):
        number = value
    else:
        text = str(value if value is not None else "").strip().replace("\u2212", "-")
        for space in DIGIT_GROUP_SPACES:
            text = text.replace(space, "")
        if text.count(",") + text.count(".") > 1:
            raise ValidationError(f"{label}: write one decimal comma or point, e.g. -20,5 or -20.5.")
        text = text.replace(",", ".")
        if not DECIMAL_TEXT.fullmatch(text):
            raise ValidationError(f"{label} must be a number.")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValidationError(f"{label} must be a number.") from None
    if not number.is_finite():
        raise ValidationError(f"{label} must be a number.")
    return number


def light_level_pass_window() -> tuple[Decimal, Decimal]:
    """The light levels that pass, in dBm (from the settings)."""
    return (
        Decimal(str(settings.FIELD_LIGHT_LEVEL_PASS_MIN_DBM)),
        Decimal(str(settings.FIELD_LIGHT_LEVEL_PASS_MAX_DBM)),
    )


def light_level_rule() -> str:
    """The pass rule in words: "pass -27 to -8 dBm"."""
    return f"pass {settings.FIELD_LIGHT_LEVEL_PASS_MIN_DBM:g} to {settings.FIELD_LIGHT_LEVEL_PASS_MAX_DBM:g} dBm"


def speed_test_rule(ordered: tuple[int, int] | None) -> str:
    """The pass rule in words: "pass at 80% of the ordered 1000/1000 Mbit/s"."""
    if ordered is None:
        return "any working connection passes: no speed was ordered"
    return f"pass at {settings.FIELD_SPEED_TEST_PASS_SHARE * 100:g}% of the ordered {ordered[0]}/{ordered[1]} Mbit/s"


def light_level(value) -> tuple[Decimal, bool]:
    """A receive power in dBm; passes within the configured window (e.g. -27 to -8 dBm for GPON)."""
    dbm = decimal_from_text(value, "The light level")
    low, high = settings.FIELD_LIGHT_LEVEL_VALID_MIN_DBM, settings.FIELD_LIGHT_LEVEL_VALID_MAX_DBM
    if not (Decimal(str(low)) <= dbm <= Decimal(str(high))):
        raise ValidationError(f"A light level is between {low:g} and {high:g} dBm; {dbm} is not a real reading.")
    pass_low, pass_high = light_level_pass_window()
    return dbm.quantize(Decimal("0.01")), pass_low <= dbm <= pass_high


def speed_test(download, upload, *, ordered: tuple[int, int] | None) -> tuple[Decimal, Decimal, bool]:
    """Measured Mbit/s; passes at the configured share of the ordered speed (or when no speed was ordered)."""
    down, up = decimal_from_text(download, "The download speed"), decimal_from_text(upload, "The upload speed")
    if down < 0 or up < 0 or down > 100_000 or up > 100_000:
        raise ValidationError("Speeds are between 0 and 100000 Mbit/s.")
    if ordered is None:
        return down.quantize(Decimal("0.01")), up.quantize(Decimal("0.01")), True
    share = Decimal(str(settings.FIELD_SPEED_TEST_PASS_SHARE))
    passed = down >= share * ordered[0] and up >= share * ordered[1]
    return down.quantize(Decimal("0.01")), up.quantize(Decimal("0.01")), passed


def ont_serial(value: str) -> str:
    serial = (value or "").strip().upper()
    ont_serial_validator(serial)
    return serial


def image_file(upload) -> tuple[ContentFile, ContentFile]:
    """An uploaded photo, checked to be an image within the size limit; returns (file, thumbnail)."""
    if upload is None:
        raise ValidationError("Choose a photo.")
    if upload.size > settings.FIELD_PHOTO_MAX_BYTES:
        raise ValidationError(f"The photo is larger than {settings.FIELD_PHOTO_MAX_BYTES // (1024 * 1024)} MB.")
    content = upload.read()
    return _image_and_thumbnail(content, name=upload.name or "photo")


def signature(data_url: str) -> tuple[ContentFile, ContentFile]:
    """A signature drawn on the screen, sent as a PNG data URL."""
    prefix = "data:image/png;base64,"
    if not data_url or not data_url.startswith(prefix):
        raise ValidationError("Draw the customer's signature.")
    try:
        content = base64.b64decode(data_url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("The signature could not be read; draw it again.") from None
    if len(content) > settings.FIELD_PHOTO_MAX_BYTES:
        raise ValidationError("The signature image is too large.")
    return _image_and_thumbnail(content, name="signature.png")


def _image_and_thumbnail(content: bytes, *, name: str) -> tuple[ContentFile, ContentFile]:
    try:
        with Image.open(io.BytesIO(content)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(content))
        if image.format not in ALLOWED_IMAGE_FORMATS:
            raise ValidationError(f"Photos are JPEG, PNG, WebP or GIF, not {image.format}.")
        width, height = image.size  # read from the header: a huge image is refused before it is decoded
        if width * height > settings.FIELD_PHOTO_MAX_PIXELS:
            raise ValidationError(
                f"The photo is {width}×{height} pixels: at most {settings.FIELD_PHOTO_MAX_PIXELS // 1_000_000} "
                "megapixels are taken (set the camera to a lower resolution)."
            )
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ValidationError("That file is not an image.") from None
    thumb = ImageOps.exif_transpose(image)  # phones store portrait photos as landscape plus a rotation tag
    if thumb.mode in ("RGBA", "LA", "P"):  # a transparent background (e.g. a signature) becomes white, not black
        thumb = thumb.convert("RGBA")
        background = Image.new("RGB", thumb.size, (255, 255, 255))
        background.paste(thumb, mask=thumb.getchannel("A"))
        thumb = background
    thumb = thumb.convert("RGB")
    thumb.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=80)
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0][:40] or "image"
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}[image.format]
    return ContentFile(content, name=f"{stem}.{extension}"), ContentFile(out.getvalue(), name=f"{stem}-thumb.jpg")
