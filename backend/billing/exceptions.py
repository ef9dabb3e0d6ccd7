"""Billing errors as API answers: a status code, a sentence and a machine code.

``stripe_errors()`` turns stripe-python exceptions into these, so views never leak
a Stripe stack trace and never answer 500 for something a client or Stripe did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import stripe
from rest_framework import status
from rest_framework.exceptions import APIException

logger = logging.getLogger(__name__)


class BillingError(APIException):
    status_code: int = status.HTTP_400_BAD_REQUEST
    default_detail = "The billing request could not be completed."
    default_code = "billing_error"


class PaymentFailed(BillingError):
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_detail = "Your card was declined."
    default_code = "card_declined"


class InvalidPaymentMethod(BillingError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "That payment method cannot be used."
    default_code = "invalid_payment_method"


class AlreadyPremium(BillingError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "You already have an active Premium subscription."
    default_code = "already_premium"


class NoSubscription(BillingError):
    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "You have no subscription."
    default_code = "no_subscription"


class NothingToResume(BillingError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Your subscription is not scheduled to cancel, so there is nothing to resume."
    default_code = "nothing_to_resume"


class StripeUnavailable(BillingError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "Our payment provider cannot be reached right now. Nothing was charged; "
        "please try again in a minute."
    )
    default_code = "stripe_unavailable"


class StripeFailed(BillingError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = (
        "Our payment provider answered with an error. Nothing was charged twice; "
        "please try again in a minute."
    )
    default_code = "stripe_error"


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Translate stripe-python exceptions raised in the block into API answers."""
    try:
        yield
    except stripe.CardError as exc:
        raise PaymentFailed(detail=exc.user_message or PaymentFailed.default_detail) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        logger.warning("Stripe unreachable: %s", exc.__class__.__name__)
        raise StripeUnavailable() from exc
    except stripe.InvalidRequestError as exc:
        if exc.param in ("payment_method", "default_payment_method") or (
            exc.code == "resource_missing" and "payment" in (exc.user_message or "").lower()
        ):
            raise InvalidPaymentMethod(detail=exc.user_message or None) from exc
        logger.error("Stripe rejected a request: %s (%s)", exc.user_message, exc.code)
        raise StripeFailed() from exc
    except stripe.StripeError as exc:
        logger.error("Stripe error %s: %s", exc.__class__.__name__, exc.user_message)
        raise StripeFailed() from exc
