"""Input bounds of the provider API that no business rule states but every sane request keeps: a day in the far
future is a typing mistake (or a probe), refused with the stable code `date_too_far` before any service sees it."""

from datetime import date, timedelta

from django.utils import timezone
from rest_framework import serializers

# A text with a character that is no space, in both regex dialects: ECMAScript's \s (the schema's) leaves out
# U+001C..U+001F and U+0085, which Python's (the serializers' trimming) counts as spaces.
NOT_BLANK = r"[^\s\x1c-\x1f\x85]"

# An installation (or an appointment) is booked at most this far ahead; the portal's own form allows one year.
INSTALL_DATE_MAX_AHEAD = timedelta(days=2 * 365)
# A price or promotion is announced at most this far ahead.
VALID_FROM_MAX_AHEAD = timedelta(days=5 * 365)


class NotAfter:
    """Refuse a date later than today (in the site's time zone) plus `ahead`."""

    def __init__(self, ahead: timedelta):
        self.ahead = ahead

    def __call__(self, value: date) -> None:
        latest = timezone.localdate() + self.ahead
        if value > latest:
            raise serializers.ValidationError(
                f"At most {self.ahead.days // 365} years ahead: {latest.isoformat()} or earlier.", code="date_too_far"
            )


install_date_bound = NotAfter(INSTALL_DATE_MAX_AHEAD)
valid_from_bound = NotAfter(VALID_FROM_MAX_AHEAD)
