"""Start-up checks of secrets the settings read (production refuses a weak one at start).

Pure functions, no Django import: ``config.settings.production`` calls them while it loads,
so a weak key stops every process (gunicorn, Celery, manage.py) with a sentence, like a
missing one does.
"""

from __future__ import annotations

import math

SECRET_KEY_MIN_LENGTH = 50  # Django's own deploy check (security.W009) asks for 50
SECRET_KEY_MIN_BITS = 160
# Words of placeholders and dev defaults (Django's "django-insecure-", ours "dev-only-insecure-").
SECRET_KEY_PLACEHOLDER_WORDS = ("insecure", "change", "example", "placeholder", "do-not-deploy")
GENERATE_HINT = "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` is too weak to sign sessions, CSRF tokens and password resets; None if fine.

    Refused: shorter than 50 characters; a known placeholder word in it; under 160 bits by a
    generous estimate (length x log2 of the distinct characters: a random hex key of 50
    characters scores 200, Django's generated keys about 250); or a repeated pattern (few
    distinct 4-character runs: ``"0123456789" * 6``).
    """
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"is {len(key)} characters long; at least {SECRET_KEY_MIN_LENGTH} are required"
    lowered = key.lower()
    for word in SECRET_KEY_PLACEHOLDER_WORDS:
        if word in lowered:
            return f"contains {word!r}: it looks like a placeholder or a development key"
    bits = len(key) * math.log2(len(set(key)))
    if bits < SECRET_KEY_MIN_BITS:
        return (
            f"has about {bits:.0f} bits of entropy (too few distinct characters); "
            f"at least {SECRET_KEY_MIN_BITS} are required"
        )
    # A repeated pattern has few distinct 4-character runs; a random key (hex included) has
    # nearly one per position. (A compression test would also refuse long random hex keys.)
    runs = len(key) - 3
    if len({key[i : i + 4] for i in range(runs)}) < 0.5 * runs:
        return "repeats a pattern, so it is far easier to guess than it looks"
    return None
