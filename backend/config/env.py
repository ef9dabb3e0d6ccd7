"""The one place that reads the environment.

Precedence (12-factor): a variable set in the process environment wins over the
same name in the project's ``.env`` file, which wins over the defaults written in
the settings modules.
"""

import os
from pathlib import Path

import environ

BACKEND_DIR = Path(__file__).resolve().parent.parent
ROOT_DIR = BACKEND_DIR.parent

env = environ.Env()
_from_environment = set(os.environ)
# overwrite=False: the real environment keeps precedence over .env.
environ.Env.read_env(str(ROOT_DIR / ".env"), overwrite=False)
# `KEY=` lines of .env (the template's blanks) mean "use the default", not "empty".
for _key in set(os.environ) - _from_environment:
    if os.environ[_key] == "":
        del os.environ[_key]


def require(name: str) -> str:
    """Read a variable that has no default in this environment, or stop start-up."""
    from django.core.exceptions import ImproperlyConfigured

    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. Set it in the environment or in .env (see .env.template)."
        )
    return value
