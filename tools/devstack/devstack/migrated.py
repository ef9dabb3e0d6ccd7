"""A migrated empty database, built once per set of migrations and copied after that.

``manage.py migrate`` on an empty database takes about 80 s on this 2-core machine, on SQLite
and PostgreSQL alike: it is CPU, Django replaying the state of dj-stripe's 0002 migration (500
operations), not SQL. ``make test`` needs about seven fresh databases (the backend suite on
each engine, the fuzz run, the browser runs' stacks, ``make chaos``), so the first one built
on each engine is kept as a template under ``var/cache/migrated/`` and the others start from a
copy of it, then run ``migrate`` anyway (about 3 s with nothing to do; it applies whatever the
template lacks).

The template's name is a digest of everything that decides what ``migrate`` makes: every
migration file by its path (the project's and the installed packages'), the settings files
(dj-stripe's migrations read some), every installed package's version (Django's SQL
included), the engine and, for PostgreSQL, the server's major version. A change to any of them
makes a new template. Only a database that was empty before ``migrate`` is saved, so a
template holds what migrations write, never anyone's data.

PostgreSQL templates are made and restored with the ``pg_dump``/``pg_restore`` that devstack
starts its clusters with (the newest PostgreSQL installed), and only for a database whose URL
names a loopback host and nothing that could point libpq elsewhere (devstack's throw-away
clusters): any other database is migrated the ordinary way and never copied. Anything that
goes wrong here (no client tools, a failed dump) only means ``migrate`` runs from scratch.

    migrated.migrate(environ, lambda: manage(environ, "migrate"))

``make test`` builds both templates ahead, while ``make lint`` runs:

    python -m devstack.migrated                                  # SQLite
    python -m devstack.services --postgres -- python -m devstack.migrated
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devstack.paths import BACKEND, ROOT, say

CACHE = ROOT / "var" / "cache" / "migrated"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Target:
    """The database a ``migrate`` is about to build: a SQLite file or a PostgreSQL URL."""

    sqlite: Path | None = None
    postgres: str | None = None

    @classmethod
    def of(cls, environ: Mapping[str, str]) -> Target:
        """The database the app's settings use with ``environ`` (``DATABASE_URL``, else
        ``<VAR_DIR>/db.sqlite3``, as config.settings.base reads them)."""
        url = environ.get("DATABASE_URL", "")
        if url:
            return cls(postgres=url) if url.startswith(("postgres://", "postgresql://")) else cls()
        # A relative VAR_DIR is read by Django in backend/ (manage.py's folder).
        return cls(sqlite=BACKEND / (environ.get("VAR_DIR") or ROOT / "var") / "db.sqlite3")


def _migration_files() -> list[tuple[str, Path]]:
    """Every migration file: (its path under the project or site-packages, the file)."""
    found: list[tuple[str, Path]] = []
    for root in (BACKEND, Path(sysconfig.get_paths()["purelib"])):
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in {"__pycache__", "node_modules", ".git"}]
            if Path(folder).name == "migrations":
                found += [
                    (str(Path(folder, name).relative_to(root)), Path(folder, name))
                    for name in files
                    if name.endswith(".py")
                ]
    return sorted(found)


@functools.cache
def digest(engine: str) -> str:
    """What decides the schema ``migrate`` makes, hashed (see the module docstring)."""
    h = hashlib.sha256(f"{engine}\0{sys.version_info[:2]}\0".encode())
    # The interpreter's installed packages only (not whatever the current folder holds).
    site = [sysconfig.get_paths()["purelib"]]
    for dist in sorted(
        f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions(path=site)
    ):
        h.update(dist.encode() + b"\0")
    # The settings too: dj-stripe's migrations read some (the subscriber model, the key field).
    settings = [
        (str(path.relative_to(BACKEND)), path)
        for path in sorted((BACKEND / "config" / "settings").glob("*.py"))
    ]
    for name, path in [*_migration_files(), *settings]:
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_empty(path: Path) -> bool:
    if not path.exists():
        return True
    db = sqlite3.connect(path)
    try:
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    finally:
        db.close()
    return tables[0] == 0


def _sqlite_copy(source: Path, dest: Path) -> None:
    """A consistent copy (SQLite's backup API: WAL contents included), written beside
    ``dest`` and renamed into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(source)
        try:
            out = sqlite3.connect(tmp)
            try:
                src.backup(out)
            finally:
                out.close()
        finally:
            src.close()
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    from devstack.processes import _pg_bin as find

    return find(name)


def _pg_local(url: str) -> bool:
    """Loopback, and no libpq parameter in the query that could send it elsewhere."""
    parts = urlsplit(url)
    return (parts.hostname or "") in LOOPBACK and not parts.query


def _why(error: BaseException) -> str:
    """What went wrong, without the command line (a database URL may carry a password)."""
    if isinstance(error, subprocess.CalledProcessError):
        err = error.stderr
        text = err.decode(errors="replace") if isinstance(err, bytes) else str(err or "")
        last = [line for line in text.splitlines() if line.strip()][-1:] or [""]
        return f"{Path(str(error.cmd[0])).name} exited {error.returncode}: {last[0][:300]}"
    return f"{error.__class__.__name__}: {error}"[:300]


def _psql(url: str, sql: str) -> str:
    done = subprocess.run(
        [_pg_bin("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def _pg_engine(url: str) -> str:
    """The server's major version (asked of its maintenance database: ``url``'s may not
    exist yet)."""
    return f"postgresql-{_psql(_maintenance(url)[0], 'SHOW server_version_num')[:-4]}"


def _pg_empty(url: str) -> bool:
    return _psql(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


# --- Both -----------------------------------------------------------------------------------


def _template(target: Target) -> Path | None:
    if target.sqlite is not None:
        return CACHE / f"{digest('sqlite')}.sqlite3"
    if target.postgres is not None and _pg_local(target.postgres):
        return CACHE / f"{digest(_pg_engine(target.postgres))}.pgdump"
    return None


def database_restore(target: Target) -> bool:
    """Fill ``target`` from its template if ``target`` is empty and a template exists; True if
    it did (``migrate`` then has nothing, or little, to do)."""
    try:
        template = _template(target)
        if template is None or not template.exists():
            return False
        if target.sqlite is not None:
            if not _sqlite_empty(target.sqlite):
                return False
            _sqlite_copy(template, target.sqlite)
        else:
            assert target.postgres is not None
            if not _pg_empty(target.postgres):
                return False
            subprocess.run(
                [_pg_bin("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
                 "--exit-on-error", "-d", target.postgres, str(template)],
                check=True, capture_output=True,
            )  # fmt: skip
    except Exception as error:  # no client tools, a failed restore: migrate from scratch
        say(f"migrated template not used ({_why(error)}); migrating from scratch")
        return False
    say(f"database from the migrated template {template.name} (var/cache/migrated/)")
    return True


def database_save(target: Target) -> None:
    """Keep a freshly migrated ``target`` as its template (atomically: a concurrent reader
    sees the old one or the whole new one). A failure only means the next build migrates."""
    try:
        template = _template(target)
        if template is None or template.exists():
            return
        template.parent.mkdir(parents=True, exist_ok=True)
        if target.sqlite is not None:
            _sqlite_copy(target.sqlite, template)
        else:
            assert target.postgres is not None
            tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
            try:
                with open(tmp, "wb") as out:
                    subprocess.run(
                        [_pg_bin("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                         "-d", target.postgres],
                        check=True, stdout=out, stderr=subprocess.PIPE,
                    )  # fmt: skip
                tmp.replace(template)
            finally:
                tmp.unlink(missing_ok=True)
    except Exception as error:  # the next build migrates from scratch, nothing worse
        say(f"migrated template not saved ({_why(error)})")


def migrate(environ: Mapping[str, str], run_migrate: Callable[[], object]) -> None:
    """``run_migrate()`` (``manage.py migrate``) on the database ``environ`` names, starting
    from the template when it is empty and one exists, saving one when it was built here."""
    target = Target.of(environ)
    empty_before = False
    restored = database_restore(target)
    if not restored:
        try:
            empty_before = (
                _sqlite_empty(target.sqlite)
                if target.sqlite is not None
                else target.postgres is not None
                and _pg_local(target.postgres)
                and _pg_empty(target.postgres)
            )
        except Exception:  # cannot tell: never save what may hold data
            empty_before = False
    run_migrate()
    if empty_before:
        database_save(target)


# --- Test databases (backend/conftest.py) --------------------------------------------------


def test_target(*, sqlite: str | os.PathLike[str] | None, database_url: str, name: str) -> Target:
    """The test database pytest-django is about to make: ``sqlite`` (its file) or the
    database ``name`` on ``database_url``'s server."""
    if sqlite is not None:
        return Target(sqlite=Path(sqlite))
    parts = urlsplit(database_url)
    return Target(postgres=urlunsplit(parts._replace(path="/" + name)))


def _maintenance(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def test_database_restore(target: Target) -> bool:
    """A fresh test database from the template, if there is one (True); else nothing is left
    behind and pytest-django makes the database as usual (False). Loopback servers only."""
    try:
        template = _template(target)
        if template is None or not template.exists():
            return False
        test_database_drop(target)
        if target.postgres is not None:
            maintenance, name = _maintenance(target.postgres)
            _psql(maintenance, f'CREATE DATABASE "{name}"')
    except Exception as error:
        say(f"migrated template not used ({_why(error)})")
        return False
    if database_restore(target):
        return True
    test_database_drop(target)
    return False


def test_database_drop(target: Target) -> None:
    """Remove a test database (its sessions ended first: PostgreSQL 13 or later); nothing if it
    is not there. A failure is reported, not raised: it leaves a test database behind."""
    try:
        if target.sqlite is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{target.sqlite}{suffix}").unlink(missing_ok=True)
        elif target.postgres is not None and _pg_local(target.postgres):
            maintenance, name = _maintenance(target.postgres)
            _psql(maintenance, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as error:
        say(f"test database not dropped ({_why(error)})")


# --- Built ahead (make test) ----------------------------------------------------------------


def main() -> int:
    """Build the template of the database ``DATABASE_URL`` names (a throw-away SQLite file
    without one) unless it is there already. Exit status 1 if ``migrate`` failed; a template
    that could not be saved is only reported (the test run then migrates itself)."""
    from devstack.processes import manage

    environ = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="opensec-migrated-") as tmp:
        if not environ.get("DATABASE_URL"):
            # Set, though empty: a DATABASE_URL in .env cannot take its place (config/env.py),
            # so this never migrates the developer's own database.
            environ["DATABASE_URL"] = ""
            environ["VAR_DIR"] = tmp
        target = Target.of(environ)
        template = _template(target)
        if template is None:
            say("no template for this database (only SQLite and loopback PostgreSQL)")
            return 0
        if template.exists():
            say(f"migrated template {template.name} is there already (var/cache/migrated/)")
            return 0
        try:
            migrate(environ, lambda: manage(environ, "migrate", "--noinput", "-v", "0"))
        except subprocess.CalledProcessError as error:
            say(f"manage.py migrate failed (exit status {error.returncode})")
            return 1
    if template.exists():
        say(f"migrated template {template.name} built (var/cache/migrated/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
