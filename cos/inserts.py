"""New rows of several tables written in one round trip, for hot write paths (placing an order).

On PostgreSQL the rows go in one statement, a chain of data-modifying CTEs, each insert able to take the id of a
row inserted before it in the chain; elsewhere each group is a bulk insert. Either way the rows are exactly those
the ORM writes: the values come from each field's own `pre_save` and `get_db_prep_save` (timestamps, JSON,
decimals), and the records get their primary keys and leave the "adding" state, as after a save.
"""

from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model


@dataclass
class Rows:
    """New records of one model; `parents` names foreign-key attributes filled with the id of the (single) record
    of an earlier `Rows` of the chain, by its index."""

    records: list[Model]
    parents: dict[str, int] = field(default_factory=dict)


def rows_insert(chain: list[Rows], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert the chain in the caller's transaction; every record gets its primary key."""
    if connections[using].vendor == "postgresql":
        _insert_with_ctes(chain, using)
    else:
        for rows in chain:
            for record in rows.records:
                for attname, index in rows.parents.items():
                    _link(record, attname, _only(chain[index]))
            if rows.records:
                type(rows.records[0]).objects.using(using).bulk_create(rows.records)
    for rows in chain:
        for record in rows.records:
            record._state.adding, record._state.db = False, using
            if hasattr(record, "_update_initial_state"):  # django-fsm: the saved state is the one to compare with
                record._update_initial_state()


def _link(record: Model, attname: str, parent: Model) -> None:
    """Point the record at its (now saved) parent; a foreign key keeps the parent object it holds, not a copy."""
    field = next(f for f in record._meta.concrete_fields if f.attname == attname)
    if field.is_relation:
        setattr(record, field.name, parent)
    else:
        setattr(record, attname, parent.pk)


def _only(rows: Rows) -> Model:
    if len(rows.records) != 1:
        raise ValueError("a parent of a chained insert is a single record")
    return rows.records[0]


def _insert_with_ctes(chain: list[Rows], using: str) -> None:
    connection = connections[using]
    quote = connection.ops.quote_name
    ctes, params = [], []
    for index, rows in enumerate(chain):
        if not rows.records:
            ctes.append(f"r{index} AS (SELECT NULL::bigint AS id WHERE FALSE)")
            continue
        meta = rows.records[0]._meta
        fields = [f for f in meta.local_concrete_fields if not f.primary_key and not f.generated]
        values = []
        for record in rows.records:
            # As save() does: a foreign key to a record saved since it was assigned takes that record's id.
            record._prepare_related_fields_for_save(
                operation_name="insert", fields=[f for f in fields if f.attname not in rows.parents]
            )
            placeholders = []
            for f in fields:
                if f.attname in rows.parents:
                    placeholders.append(f"(SELECT id FROM r{rows.parents[f.attname]})")
                else:
                    placeholders.append("%s")
                    params.append(f.get_db_prep_save(f.pre_save(record, add=True), connection))
            values.append(f"({', '.join(placeholders)})")
        columns = ", ".join(quote(f.column) for f in fields)
        pk = quote(meta.pk.column)
        ctes.append(
            f"r{index} AS (INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join(values)} "
            f"RETURNING {pk} AS id)"
        )
    selects = ", ".join(f"ARRAY(SELECT id FROM r{index} ORDER BY id)" for index in range(len(chain)))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} SELECT {selects}", params)
        ids = cursor.fetchone()
    for rows, row_ids in zip(chain, ids, strict=True):
        # A multi-row VALUES takes its ids from the sequence in row order: ascending ids are the records in order.
        for record, pk in zip(rows.records, row_ids, strict=True):
            record.pk = pk
        for record in rows.records:
            for attname, index in rows.parents.items():
                _link(record, attname, _only(chain[index]))
