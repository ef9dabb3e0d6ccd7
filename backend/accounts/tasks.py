"""Celery tasks of accounts: keeping the JWT tables small."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.management import call_command
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

logger = logging.getLogger(__name__)


@shared_task(name="accounts.flush_expired_tokens")
def flush_expired_tokens() -> int:
    """Delete refresh tokens past their expiry, blacklisted ones included (beat, nightly).

    simplejwt's ``flushexpiredtokens``: a token that has expired is refused by its ``exp``
    alone, so its outstanding row and blacklist entry are dead weight. A blacklisted token that
    has *not* expired yet stays: deleting its entry would make it valid again. Returns how
    many rows went.
    """
    before = OutstandingToken.objects.count()
    call_command("flushexpiredtokens", verbosity=0)
    removed = before - OutstandingToken.objects.count()
    logger.info("flushed %s expired refresh token(s)", removed)
    return removed
