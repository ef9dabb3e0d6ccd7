"""devstack.migrated: a database migrated once is the template the next empty one is copied
from, on real SQLite files and a real throw-away PostgreSQL cluster. ``run_migrate`` here
stands in for ``manage.py migrate`` (it makes a table): what is under test is when the
template is used, saved and left alone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from devstack import migrated
from devstack.processes import PostgresServer


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setattr(migrated, "CACHE", folder)
    return folder


def tables(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [name for (name,) in rows]
    finally:
        db.close()


def sqlite_migrate(path: Path) -> list[str]:
    """A stand-in for `manage.py migrate`: makes its table if missing; returns the tables it
    found before."""
    found = tables(path) if path.exists() else []
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS django_migrations (app TEXT, name TEXT)")
        if not found:
            db.execute("INSERT INTO django_migrations VALUES ('billing', '0001_initial')")
        db.commit()
    finally:
        db.close()
    return found


def test_the_first_sqlite_build_is_saved_and_the_next_empty_one_starts_from_it(tmp_path):
    first = tmp_path / "a" / "db.sqlite3"
    first.parent.mkdir()
    seen: list[list[str]] = []
    migrated.migrate({"VAR_DIR": str(first.parent)}, lambda: seen.append(sqlite_migrate(first)))
    assert seen == [[]]  # built from nothing
    [template] = migrated.CACHE.iterdir()
    assert template.suffix == ".sqlite3" and tables(template) == ["django_migrations"]

    second = tmp_path / "b" / "db.sqlite3"
    second.parent.mkdir()
    migrated.migrate({"VAR_DIR": str(second.parent)}, lambda: seen.append(sqlite_migrate(second)))
    assert seen[1] == ["django_migrations"]  # migrate found the template's tables
    db = sqlite3.connect(second)
    assert db.execute("SELECT app, name FROM django_migrations").fetchall() == [
        ("billing", "0001_initial")
    ]
    db.close()


def test_a_database_with_tables_is_neither_replaced_nor_saved(tmp_path):
    path = tmp_path / "db.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (email TEXT)")
    db.execute("INSERT INTO customers VALUES ('someone@example.com')")
    db.commit()
    db.close()
    migrated.migrate({"VAR_DIR": str(tmp_path)}, lambda: sqlite_migrate(path))
    assert not migrated.CACHE.exists()  # someone's data never becomes a template
    assert tables(path) == ["customers", "django_migrations"]


def test_the_template_name_changes_with_any_migration(tmp_path, monkeypatch):
    migration = tmp_path / "0001_initial.py"
    migration.write_text("operations = []\n")
    where = ["billing/migrations/0001_initial.py"]
    monkeypatch.setattr(migrated, "_migration_files", lambda: [(where[0], migration)])

    def fresh(engine: str) -> str:
        migrated.digest.cache_clear()  # computed once per process; a new run sees changes
        return migrated.digest(engine)

    before = fresh("sqlite")
    assert fresh("sqlite") == before
    assert fresh("postgresql-15") != before
    migration.write_text("operations = ['AddField']\n")
    changed = fresh("sqlite")
    assert changed != before
    where[0] = "filings/migrations/0001_initial.py"  # the same file in another app
    assert fresh("sqlite") != changed
    migrated.digest.cache_clear()


def test_where_the_app_keeps_its_database():
    assert migrated.Target.of({"VAR_DIR": "/x/var"}) == migrated.Target(
        sqlite=Path("/x/var/db.sqlite3")
    )
    url = "postgres://postgres@127.0.0.1:5432/opensecdata"
    assert migrated.Target.of({"DATABASE_URL": url}) == migrated.Target(postgres=url)
    assert migrated.Target.of({"DATABASE_URL": "mysql://db/x"}) == migrated.Target()


def test_a_failing_client_tool_means_migrating_from_scratch_and_says_so_without_the_url(
    monkeypatch, capsys
):
    import subprocess

    def psql_fails(url: str, sql: str) -> str:
        raise subprocess.CalledProcessError(
            2, ["/usr/lib/postgresql/15/bin/psql", "-d", url], stderr=b"psql: error: refused\n"
        )

    monkeypatch.setattr(migrated, "_psql", psql_fails)
    url = "postgres://app:s3cret@127.0.0.1:5432/opensecdata"
    ran: list[int] = []
    migrated.migrate({"DATABASE_URL": url}, lambda: ran.append(1))
    assert ran == [1] and not migrated.CACHE.exists()
    said = capsys.readouterr().out
    assert "psql exited 2: psql: error: refused" in said and "s3cret" not in said


def test_a_database_off_this_machine_is_never_copied(monkeypatch):
    def no_tools(*args: object, **kwargs: object) -> str:
        raise AssertionError("no PostgreSQL tool may run against another host")

    monkeypatch.setattr(migrated, "_psql", no_tools)
    remote = migrated.Target(postgres="postgres://app:secret@db.example.com:5432/opensecdata")
    assert migrated.database_restore(remote) is False
    # libpq's host= in the query wins over the URL's host: not loopback then.
    sneaky = "postgres://app@127.0.0.1:5432/opensecdata?host=db.example.com"
    assert migrated.database_restore(migrated.Target(postgres=sneaky)) is False
    ran: list[int] = []
    migrated.migrate({"DATABASE_URL": remote.postgres or ""}, lambda: ran.append(1))
    assert ran == [1] and not migrated.CACHE.exists()


def test_postgresql_round_trip_through_pg_dump_and_pg_restore():
    server = PostgresServer().start()
    try:
        url = server.url
        migrated._psql(url, "CREATE TABLE django_migrations (app text, name text)")
        migrated._psql(url, "INSERT INTO django_migrations VALUES ('billing', '0001_initial')")
        migrated.database_save(migrated.Target(postgres=url))
        [template] = migrated.CACHE.iterdir()
        assert template.suffix == ".pgdump"

        test = migrated.test_target(sqlite=None, database_url=url, name="test_opensecdata")
        assert migrated.test_database_restore(test)
        assert test.postgres is not None
        rows = migrated._psql(test.postgres, "SELECT app || '.' || name FROM django_migrations")
        assert rows == "billing.0001_initial"
        assert migrated.test_database_restore(test)  # again: dropped and made afresh
        migrated.test_database_drop(test)
        left = migrated._psql(url, "SELECT count(*) FROM pg_database WHERE datname LIKE 'test%'")
        assert left == "0"
    finally:
        server.close()


def test_built_ahead_once_then_left_alone_and_a_failed_migrate_is_exit_status_1(
    monkeypatch, capsys
):
    """`python -m devstack.migrated` (make test runs it beside lint): builds the SQLite template
    in a throw-away folder, then finds it there; a failing `migrate` is its exit status."""
    import subprocess

    from devstack import processes

    ran: list[str] = []

    def manage(environ: dict[str, str], *args: str) -> None:
        assert environ["DATABASE_URL"] == ""  # set: a DATABASE_URL in .env cannot win
        ran.append(args[0])
        sqlite_migrate(Path(environ["VAR_DIR"]) / "db.sqlite3")

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(processes, "manage", manage)
    assert migrated.main() == 0 and ran == ["migrate"]
    [template] = migrated.CACHE.iterdir()
    assert tables(template) == ["django_migrations"]
    assert "built" in capsys.readouterr().out

    assert migrated.main() == 0 and ran == ["migrate"]  # not again
    assert "there already" in capsys.readouterr().out

    template.unlink()

    def fails(environ: dict[str, str], *args: str) -> None:
        raise subprocess.CalledProcessError(1, ["manage.py", *args])

    monkeypatch.setattr(processes, "manage", fails)
    assert migrated.main() == 1 and not list(migrated.CACHE.iterdir())
    assert "migrate failed (exit status 1)" in capsys.readouterr().out
