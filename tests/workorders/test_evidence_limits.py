"""Evidence the server refuses before it costs memory: a photo with too many pixels."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from workorders.evidence import image_file


def _png(width: int, height: int) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 200, 200)).save(out, format="PNG")
    return SimpleUploadedFile("big.png", out.getvalue(), content_type="image/png")


def test_a_photo_with_more_pixels_than_the_cap_is_refused_with_the_reason(settings):
    settings.FIELD_PHOTO_MAX_PIXELS = 400 * 300
    with pytest.raises(ValidationError, match="401×300 pixels"):
        image_file(_png(401, 300))
    photo, thumbnail = image_file(_png(400, 300))
    assert photo.size
    assert thumbnail.size


@pytest.mark.parametrize("password", ["12345678", "password", "qwertyuiop"])
def test_common_and_numeric_passwords_are_refused(password):
    from django.contrib.auth.password_validation import validate_password

    with pytest.raises(ValidationError):
        validate_password(password)
