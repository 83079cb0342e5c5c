"""Queries of the core that read."""

import re
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Case, IntegerField, Q, Value, When

from cos.models import AddressObject, AddressStreet

STREETS_CONSIDERED = 20
_NUMBER = re.compile(r"^(\d{1,5})([a-z]?)$")
_POSTAL = re.compile(r"^(?=.*\d)[0-9A-Z]{4,10}$")


@dataclass
class AddressQuery:
    """A free-text address query split into street words and an optional house number (+ letter)."""

    text: str
    words: list[str] = field(default_factory=list)
    number: int | None = None
    suffix: str = ""

    @classmethod
    def parse(cls, text: str) -> "AddressQuery":
        query = cls(text=" ".join(text.replace(",", " ").split()))
        for token in query.text.lower().split():
            match = _NUMBER.match(token)
            if match and query.number is None and query.words:
                query.number, query.suffix = int(match[1]), match[2]
            else:
                query.words.append(token)
        return query

    @property
    def street_text(self) -> str:
        return " ".join(self.words)


def address_search(*, query: str, limit: int = 10) -> list[AddressObject]:
    """Addresses that best match free text: an external id, a postal code, or "street number [city]".

    Ranking: an exact external id first; then a postal code; otherwise by how well the street
    (and city) match the words, then the exact house number before numbers that start with it.
    At most four queries, whatever the number of addresses.
    """
    parsed = AddressQuery.parse(query)
    if not parsed.text:
        return []
    by_id = list(AddressObject.objects.filter(external_id__in={parsed.text, parsed.text.upper()})[:1])
    if by_id:
        return by_id
    compact = parsed.text.replace(" ", "").upper()
    if _POSTAL.match(compact):
        by_postal = list(AddressObject.objects.filter(postal_code=compact)[:limit])
        if by_postal:
            return by_postal
    if not parsed.words:
        return []
    streets = _streets_matching(parsed.street_text)
    if not streets:
        return []
    qs = AddressObject.objects.filter(reduce(or_, (Q(street=s, city=c) for s, c in streets)))
    street_rank = Case(
        *(When(street=s, city=c, then=Value(rank)) for rank, (s, c) in enumerate(streets)),
        output_field=IntegerField(),
    )
    ordering = ["street_rank"]
    if parsed.number is not None:
        n = parsed.number
        qs = qs.filter(
            Q(house_number=n)
            | Q(house_number__gte=n * 10, house_number__lt=n * 10 + 10)
            | Q(house_number__gte=n * 100, house_number__lt=n * 100 + 100)
        )
        exactness = Case(
            When(house_number=n, suffix__iexact=parsed.suffix, then=Value(0)),
            When(house_number=n, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        qs = qs.annotate(exactness=exactness)
        ordering.append("exactness")
    ordering += ["house_number", "suffix", "unit", "pk"]
    return list(qs.annotate(street_rank=street_rank).order_by(*ordering)[:limit])


def _streets_matching(text: str) -> list[tuple[str, str]]:
    """The best (street, city) pairs for the words: pg_trgm word similarity on PostgreSQL, substrings elsewhere."""
    text = text.lower()
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(AddressStreet._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT street, city FROM {table}
                WHERE search_text LIKE %s OR %s <%% search_text
                ORDER BY search_text LIKE %s DESC, word_similarity(%s, search_text) DESC, street, city
                LIMIT %s
                """,
                [f"%{_like_escape(text)}%", text, f"{_like_escape(text)}%", text, STREETS_CONSIDERED],
            )
            return [(street, city) for street, city in cursor.fetchall()]
    qs = AddressStreet.objects.all()
    for word in text.split():
        qs = qs.filter(search_text__contains=word)
    prefix_first = Case(
        When(search_text__startswith=text, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return list(
        qs.annotate(prefix_first=prefix_first)
        .order_by("prefix_first", "street", "city")
        .values_list("street", "city")[:STREETS_CONSIDERED]
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
