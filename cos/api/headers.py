"""Request headers as text. WSGI hands a header over as ISO-8859-1 (each byte one character, PEP 3333), so a UTF-8
value arrives mis-decoded ("Ã¥" for "å"): the bytes are recovered and read as UTF-8, and a value that is not UTF-8,
or holds a control character, is refused as bad input."""

import unicodedata

from rest_framework.exceptions import ValidationError

# The same rule for the schema: no control character, and at least one that is no space.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"


def header_text(request, name: str) -> str:
    """The header's value read as UTF-8, stripped; "" when it is absent. Raises a 400 (code header_invalid)."""
    raw = request.headers.get(name, "")
    try:
        text = raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise ValidationError({name: ["The header is not valid UTF-8."]}, code="header_invalid") from None
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValidationError({name: ["The header holds a control character."]}, code="header_invalid")
    return text.strip()
