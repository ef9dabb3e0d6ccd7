"""PostgreSQL's ``COPY ... FROM STDIN`` for bulk inserts, with psycopg 2 or 3 (whichever
driver Django uses), inside the current transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import StringIO

from django.db import connection

# COPY's text format: a backslash, a tab (the column separator) or a line break inside a
# value would end or change it; these escapes are the format's own.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_value(value: object) -> str:
    """One value in COPY's text format (``\\N`` is NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def rows_copy(*, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """``COPY table (columns) FROM STDIN`` of ``rows`` on the default connection (PostgreSQL
    only); answers the number of rows sent. Constraints, triggers and foreign keys apply as
    for an INSERT; an error raises the driver's exception (a ``DatabaseError``)."""
    if connection.vendor != "postgresql":
        raise RuntimeError("COPY is PostgreSQL's; use bulk_create elsewhere.")
    # copy_value inlined: this runs for every value of every row.
    lines = [
        "\t".join(
            [
                v.translate(_ESCAPES) if type(v) is str else "\\N" if v is None else str(v)
                for v in row
            ]
        )
        + "\n"
        for row in rows
    ]
    if not lines:
        return 0
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    text = "".join(lines)
    with connection.cursor() as cursor:
        driver = cursor.cursor  # the driver's own cursor, under Django's wrapper
        # Django's wrapper turns the driver's errors into django.db errors on execute();
        # COPY bypasses execute(), so do the same here.
        with connection.wrap_database_errors:
            if hasattr(driver, "copy_expert"):  # psycopg2
                driver.copy_expert(sql, StringIO(text))
            else:  # psycopg 3
                with driver.copy(sql) as copy:
                    copy.write(text)
    return len(lines)
