"""List pagination of the provider API: limit/offset, with a ceiling so no request asks the database for more than
it can count."""

from rest_framework.pagination import LimitOffsetPagination

MAX_OFFSET = 10**9


class Pagination(LimitOffsetPagination):
    """?limit=&offset=: at most `max_limit` rows a page; a larger limit gives that many, an absurd offset none."""

    default_limit = 50
    max_limit = 500

    def get_offset(self, request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
