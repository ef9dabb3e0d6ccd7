"""The bench's settings: `make run`'s, plus dj-stripe's own webhook URL to compare with."""

from config.settings.local import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.urls"
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index,name-defined]  # noqa: F405  (no per-request log lines in the figures)
# dj-stripe warns that STRIPE_API_HOST is set: here it is the stand-in, on purpose.
SILENCED_SYSTEM_CHECKS = ["djstripe.W002"]
