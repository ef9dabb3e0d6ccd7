"""Mirror Stripe objects into dj-stripe's models.

The mirror serves the admin and reporting; the entitlement never depends on it. A failure
to mirror is logged and does not fail the user's request (the webhook worker and the
nightly reconciliation sync the same objects again).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from .stripe_objects import field

logger = logging.getLogger(__name__)


def _model_for(object_name: str) -> Any:
    # Imported here, not at the top: dj-stripe's models need the app registry ready, and
    # this keeps billing's modules importable before django.setup() (not a cycle).
    from djstripe import models as djstripe_models

    return {
        "customer": djstripe_models.Customer,
        "subscription": djstripe_models.Subscription,
        "invoice": djstripe_models.Invoice,
        "price": djstripe_models.Price,
        "product": djstripe_models.Product,
        "payment_intent": djstripe_models.PaymentIntent,
    }.get(object_name)


def djstripe_sync(obj: Any) -> Any | None:
    """Sync one Stripe object (a ``stripe.StripeObject``) into dj-stripe; None if skipped."""
    model = _model_for(str(field(obj, "object") or ""))
    if model is None:
        return None
    try:
        with transaction.atomic():
            return model.sync_from_stripe_data(obj, api_key=settings.STRIPE_SECRET_KEY)
    except Exception:
        logger.exception("dj-stripe could not mirror %s %s", field(obj, "object"), field(obj, "id"))
        return None
