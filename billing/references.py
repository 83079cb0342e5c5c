"""Payment references a bank transfer is matched by: Swedish OCR numbers, digits with a Luhn check digit (the
modulus-10 check that banks verify when the payer types the reference)."""


def luhn_digit(digits: str) -> str:
    """The check digit that makes `digits` + it pass the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def luhn_valid(reference: str) -> bool:
    return reference.isdigit() and len(reference) >= 2 and luhn_digit(reference[:-1]) == reference[-1]


SERIES_DIGIT = {"INV": "1", "CN": "2"}


def payment_reference(*, year: int, series: str, sequence: int) -> str:
    """The OCR reference of an issuer's numbered invoice: year, series and number, then the check digit (unique per
    issuer, as the number is). E.g. INV-2026-000042 -> 20261000042 + 9."""
    digits = f"{year:04d}{SERIES_DIGIT[series]}{sequence:06d}"
    return digits + luhn_digit(digits)


def reference_typed(text: str) -> str:
    """A reference as people type it (spaces, dashes) reduced to its digits."""
    return "".join(char for char in text if char.isdigit())
