"""pytest: like `local`, with fast hashing and the stand-ins wired by conftest fixtures."""

from .local import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = False

# A file, not SQLite's in-memory database: threads and processes of a test then use
# separate connections, so locking is exercised as in production.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

# Requests made from test threads close their connection at the end (no persistent
# connections), so PostgreSQL can drop the test database when the run ends.
DATABASES["default"]["CONN_MAX_AGE"] = 0
