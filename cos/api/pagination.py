"""List pagination of the provider API: limit/offset, with a ceiling so no request asks the database for more than
it can count, and a 400 for a limit or offset that is no number (rather than quietly the first page)."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_OFFSET = 10**9


def _whole_number(request, name: str, *, minimum: int) -> int | None:
    """The query parameter as an integer of at least `minimum`, None when absent or empty; anything else is a 400."""
    text = request.query_params.get(name, "")
    if text == "":
        return None  # sent empty: as if not sent, like an empty filter
    if not text.isascii() or not text.isdigit() or int(text) < minimum:
        raise ValidationError({name: [f"Give a whole number of at least {minimum}."]}, code="invalid")
    return int(text)


class Pagination(LimitOffsetPagination):
    """?limit=&offset=: at most `max_limit` rows a page; a larger limit gives that many, an absurd offset none."""

    default_limit = 50
    max_limit = 500

    def get_limit(self, request) -> int:
        limit = _whole_number(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request) -> int:
        offset = _whole_number(request, self.offset_query_param, minimum=0)
        return 0 if offset is None else min(offset, MAX_OFFSET)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1 if parameter["name"] == self.limit_query_param else 0
        return parameters
