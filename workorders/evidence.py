"""Evidence checks: each kind's validation and pass/fail rules. Raise ValidationError with a clear message."""

import base64
import binascii
import io
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from cos.models.network import ont_serial_validator

THUMBNAIL_SIZE = (320, 320)
ALLOWED_IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


def _decimal(value, label: str) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{label} must be a number.") from None
    if not number.is_finite():
        raise ValidationError(f"{label} must be a number.")
    return number


def light_level(value) -> tuple[Decimal, bool]:
    """A receive power in dBm; passes within the configured window (e.g. -27 to -8 dBm for GPON)."""
    dbm = _decimal(value, "The light level")
    low, high = settings.FIELD_LIGHT_LEVEL_VALID_MIN_DBM, settings.FIELD_LIGHT_LEVEL_VALID_MAX_DBM
    if not (Decimal(str(low)) <= dbm <= Decimal(str(high))):
        raise ValidationError(f"A light level is between {low:g} and {high:g} dBm; {dbm} is not a real reading.")
    passed = (
        Decimal(str(settings.FIELD_LIGHT_LEVEL_PASS_MIN_DBM))
        <= dbm
        <= Decimal(str(settings.FIELD_LIGHT_LEVEL_PASS_MAX_DBM))
    )
    return dbm.quantize(Decimal("0.01")), passed


def speed_test(download, upload, *, ordered: tuple[int, int] | None) -> tuple[Decimal, Decimal, bool]:
    """Measured Mbit/s; passes at the configured share of the ordered speed (or when no speed was ordered)."""
    down, up = _decimal(download, "The download speed"), _decimal(upload, "The upload speed")
    if down < 0 or up < 0 or down > 100_000 or up > 100_000:
        raise ValidationError("Speeds are between 0 and 100000 Mbit/s.")
    if ordered is None:
        return down, up, True
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
