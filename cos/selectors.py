"""Queries of the core that read."""

import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Case, IntegerField, Value, When

from cos.choices import HandlerRunStatus
from cos.models import AddressObject, AddressStreet, HandlerRun

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
    streets = _streets_matching(parsed.words)
    if not streets:
        return []
    return _addresses_on_streets(streets, parsed, limit)


def _addresses_on_streets(streets: list[tuple[str, str, int]], parsed: AddressQuery, limit: int) -> list:
    """Addresses on the given streets, best street tier first, then the exact number, then street rank."""
    table = connection.ops.quote_name(AddressObject._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(streets))
    params: list = [value for rank, (street, city, tier) in enumerate(streets) for value in (street, city, tier, rank)]
    where, exactness = "", "s.column3"
    if parsed.number is not None:
        n = parsed.number
        where = "AND (a.house_number = %s OR a.house_number BETWEEN %s AND %s OR a.house_number BETWEEN %s AND %s)"
        params += [n, n * 10, n * 10 + 9, n * 100, n * 100 + 99]
        exactness = (
            "CASE WHEN a.house_number = %s AND LOWER(a.suffix) = %s THEN 0 WHEN a.house_number = %s THEN 1 ELSE 2 END"
        )
        params += [n, parsed.suffix, n]
    params.append(limit)
    sql = f"""
        SELECT a.* FROM {table} a
        JOIN (VALUES {values}) AS s ON a.street = s.column1 AND a.city = s.column2
        WHERE 1 = 1 {where}
        ORDER BY s.column3, {exactness}, s.column4, a.house_number, a.suffix, a.unit, a.id
        LIMIT %s
    """
    # exactness params come after the WHERE params in the statement text, which is their order in `params`.
    return list(AddressObject.objects.raw(sql, params))


def _streets_matching(words: list[str]) -> list[tuple[str, str, int]]:
    """The best (street, city, tier) for the words.

    Every word must appear in "street city" (a trigram GIN index serves these LIKEs on PostgreSQL);
    tier 0 when "street city" starts with the words, else 1. On PostgreSQL, when no street contains
    the words, fall back to pg_trgm word similarity, which forgives typos ("storgaten").
    """
    text = " ".join(words)
    qs = AddressStreet.objects.all()
    for word in words:
        qs = qs.filter(search_text__contains=word)
    tier = Case(When(search_text__startswith=text, then=Value(0)), default=Value(1), output_field=IntegerField())
    ranked = qs.annotate(tier=tier).order_by("tier", "street", "city")
    streets = list(ranked.values_list("street", "city", "tier")[:STREETS_CONSIDERED])
    if streets or connection.vendor != "postgresql":
        return streets
    table = connection.ops.quote_name(AddressStreet._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT street, city, 1 FROM {table} WHERE %s <%% search_text
            ORDER BY word_similarity(%s, search_text) DESC, street, city LIMIT %s
            """,
            [text, text, STREETS_CONSIDERED],
        )
        return [tuple(row) for row in cursor.fetchall()]


def handler_runs_needing_attention():
    """Handler runs that failed and wait for their retry, or gave up: the outbox deliveries someone must look at."""
    return HandlerRun.objects.filter(status__in=[HandlerRunStatus.FAILED, HandlerRunStatus.DEAD])
