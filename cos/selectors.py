"""Queries of the core that read."""

import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Case, IntegerField, Value, When

from cos.choices import AddressStatus, HandlerRunStatus
from cos.models import AddressObject, AddressStreet, HandlerRun

STREETS_CONSIDERED = 20
_NUMBER = re.compile(r"^(\d{1,5})([a-z]?)$")
_POSTAL = re.compile(r"^(?=.*\d)[0-9A-Z]{4,10}$")
_UNIT = re.compile(r"^(?:lgh|lagenhet|apt|unit)?(\d{4,5})$")  # Swedish apartment numbers are four digits: 1301
_UNIT_WORDS = {"lgh", "lgh.", "lagenhet", "apt", "unit", "#"}


@dataclass
class AddressQuery:
    """A free-text address query split into street words and an optional house number (+ letter)."""

    text: str
    words: list[str] = field(default_factory=list)
    number: int | None = None
    suffix: str = ""
    unit: str = ""  # "Solhöjdsvägen 2 1301", "Solhöjdsvägen 2 lgh 1301"

    @classmethod
    def parse(cls, text: str) -> "AddressQuery":
        """Words are folded (case and accents) as the street index is; after the house number, a four-digit number
        (or "lgh 1301") is the apartment."""
        query = cls(text=" ".join(text.replace(",", " ").split()))
        unit_next = False
        for token in AddressStreet.fold(query.text).split():
            number, unit = _NUMBER.match(token), _UNIT.match(token)
            if token in _UNIT_WORDS and query.number is not None:
                unit_next = True
            elif unit and query.number is not None and not query.unit and (unit_next or len(unit[1]) == 4):
                query.unit, unit_next = unit[1], False
            elif number and query.number is None and query.words:
                query.number, query.suffix = int(number[1]), number[2]
            else:
                query.words.append(token)
        return query

    @property
    def names_a_building(self) -> bool:
        return self.number is not None


def address_search(*, query: str, limit: int = 10, buildings: bool = False) -> list:
    """Addresses that best match free text: an external id, a postal code, or "street number [city]".

    Ranking: an exact external id first; then a postal code; otherwise by how well the street
    (and city) match the words, then the exact house number before numbers that start with it.
    At most four queries, whatever the number of addresses. With `buildings`, homes of one building (the units of
    an apartment block) are one Building row with their count, for a list that shows buildings first.
    """
    parsed = AddressQuery.parse(query)
    if not parsed.text:
        return []
    by_id = list(AddressObject.objects.filter(external_id__in={parsed.text, parsed.text.upper()})[:1])
    if by_id:
        return [Building(a, 1, a.status) for a in by_id] if buildings else by_id
    compact = parsed.text.replace(" ", "").upper()
    if _POSTAL.match(compact):
        by_postal = list(AddressObject.objects.filter(postal_code=compact)[:limit])
        if by_postal:
            return [Building(a, 1, a.status) for a in by_postal] if buildings else by_postal
    if not parsed.words:
        return []
    streets = _streets_matching(parsed.words)
    if not streets:
        return []
    return _addresses_on_streets(streets, parsed, limit, buildings=buildings)


@dataclass(frozen=True)
class Building:
    """The homes at one street number: `first` is one of them, `homes` how many, `status` the furthest along."""

    first: AddressObject
    homes: int
    status: str

    @property
    def label(self) -> str:
        return self.first.label if self.homes == 1 else self.street_label

    @property
    def street_label(self) -> str:
        a = self.first
        return f"{a.street} {a.house_number}{a.suffix}, {a.postal_code} {a.city}"

    @property
    def query(self) -> str:
        """What to search for to list this building's homes."""
        a = self.first
        return f"{a.street} {a.house_number}{a.suffix} {a.city}"


_STATUS_RANK = [AddressStatus.CONNECTED, AddressStatus.IN_DEPLOYMENT, AddressStatus.SURVEYED, AddressStatus.PLANNED]


def _addresses_on_streets(
    streets: list[tuple[str, str, int]], parsed: AddressQuery, limit: int, *, buildings: bool = False
) -> list:
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
        if parsed.unit:
            where += " AND (a.unit = %s OR a.unit LIKE %s)"
            params[-3:-3] = [parsed.unit, f"%{parsed.unit}"]  # WHERE params come before the exactness ones
    params.append(limit)
    if not buildings:
        sql = f"""
            SELECT a.* FROM {table} a
            JOIN (VALUES {values}) AS s ON a.street = s.column1 AND a.city = s.column2
            WHERE 1 = 1 {where}
            ORDER BY s.column3, {exactness}, s.column4, a.house_number, a.suffix, a.unit, a.id
            LIMIT %s
        """
        # exactness params come after the WHERE params in the statement text, which is their order in `params`.
        return list(AddressObject.objects.raw(sql, params))
    rank = " ".join(f"WHEN '{status}' THEN {i}" for i, status in enumerate(_STATUS_RANK))
    sql = f"""
        SELECT MIN(a.id), COUNT(*), MIN(CASE a.status {rank} ELSE {len(_STATUS_RANK)} END) FROM {table} a
        JOIN (VALUES {values}) AS s ON a.street = s.column1 AND a.city = s.column2
        WHERE 1 = 1 {where}
        GROUP BY a.street, a.city, a.house_number, a.suffix
        ORDER BY MIN(s.column3), MIN({exactness}), MIN(s.column4), a.house_number, a.suffix
        LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    firsts = AddressObject.objects.in_bulk([row[0] for row in rows])
    return [
        Building(firsts[pk], homes, _STATUS_RANK[best] if best < len(_STATUS_RANK) else AddressStatus.PLANNED)
        for pk, homes, best in rows
    ]


def _streets_matching(words: list[str]) -> list[tuple[str, str, int]]:
    """The best (street, city, tier) for the words.

    Every word must appear in "street city" (a trigram GIN index serves these LIKEs on PostgreSQL);
    tier 0 when "street city" starts with the words, else 1. On PostgreSQL, when no street contains
    the words, fall back to pg_trgm word similarity, which forgives typos ("storgaten").
    """
    text = " ".join(words)  # folded, as search_text is
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


def address_ids_matching(term: str) -> list[int]:
    """What an operator's search box means by an address ("Solhöjdsvägen 2B"): the addresses of the ranked address
    search; with a house number typed, only that number where it exists (the search also offers 20-29 for "2", as
    one types)."""
    addresses = address_search(query=term, limit=500)
    parsed = AddressQuery.parse(term)
    if parsed.number is not None:
        exact = [a for a in addresses if a.house_number == parsed.number]
        if parsed.suffix:
            exact = [a for a in exact if a.suffix.lower() == parsed.suffix] or exact
        addresses = exact or addresses
    return [address.pk for address in addresses]
