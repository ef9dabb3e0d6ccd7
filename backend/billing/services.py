"""Writes of billing state: buying, syncing, cancelling and resuming Premium.

Every function takes the per-user lock (the user's ``BillingAccount`` row, selected for
update) for its whole run, so two requests of one user never interleave; Stripe writes
carry deterministic idempotency keys, so a retry after a timeout never creates a second
customer or subscription. Stripe is reached only through :mod:`billing.stripe_client`;
the row and what is stored on it are :mod:`billing.account_state`'s, re-reading a customer
from Stripe is :mod:`billing.sync`'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import User

from . import entitlement, stripe_client
from .account_state import account_apply_subscription, account_link_customer, account_lock
from .djstripe_sync import djstripe_sync
from .exceptions import (
    AlreadyPremium,
    BillingError,
    NoSubscription,
    NothingToResume,
    PaymentFailed,
    StripeFailed,
    stripe_errors,
)
from .models import BillingAccount
from .stripe_objects import field
from .sync import account_sync
from .throttling import decline_record

logger = logging.getLogger(__name__)

# A second create-subscription with the same body this soon gets the first answer.
REPEAT_WINDOW = timedelta(minutes=10)
BROWSER_CONFIRMATION = "browser-confirmation"
PRICE_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class PriceInfo:
    id: str
    unit_amount: int
    currency: str
    interval: str
    product_name: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "unit_amount": self.unit_amount,
            "currency": self.currency,
            "interval": self.interval,
            "product_name": self.product_name,
        }


@dataclass(frozen=True)
class Purchase:
    subscription_id: str
    status: str
    client_secret: str | None
    premium: bool
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "status": self.status,
            "client_secret": self.client_secret,
            "premium": self.premium,
        }


# --- The price ---------------------------------------------------------------------


def _price_cache_key() -> str:
    # The API host is part of the key: a price of one Stripe (or stand-in) means nothing to another.
    host = settings.STRIPE_API_HOST_OVERRIDE or "stripe"
    return f"billing:price:{host}:{settings.STRIPE_PRICE_ID or settings.STRIPE_PRICE_LOOKUP_KEY}"


def price_info_from(price: stripe.Price) -> PriceInfo:
    product = field(price, "product")
    return PriceInfo(
        id=price["id"],
        unit_amount=int(price["unit_amount"]),
        currency=str(price["currency"]),
        interval=str(field(field(price, "recurring"), "interval", "")),
        product_name=str(field(product, "name", "") if not isinstance(product, str) else ""),
    )


def price_get() -> PriceInfo:
    """The Premium price: ``STRIPE_PRICE_ID`` or the one with our lookup key (cached)."""
    cached = cache.get(_price_cache_key())
    if cached:
        return PriceInfo(**cached)
    with stripe_errors():
        if settings.STRIPE_PRICE_ID:
            price = stripe_client.price_retrieve(settings.STRIPE_PRICE_ID)
        else:
            found = stripe_client.price_by_lookup_key(settings.STRIPE_PRICE_LOOKUP_KEY)
            if found is None:
                raise PriceMissing()
            price = found
    return price_cache(price)


def price_cache(price: stripe.Price) -> PriceInfo:
    """Remember ``price`` as the Premium price (and mirror it into dj-stripe); its info."""
    info = price_info_from(price)
    cache.set(_price_cache_key(), info.__dict__, PRICE_CACHE_SECONDS)
    djstripe_sync(price)
    return info


class PriceMissing(StripeFailed):
    status_code = 503  # type: ignore[assignment]
    default_detail = (
        "Premium is not set up yet: no Stripe price was found. "
        "Run `manage.py create_stripe_data` (make run does it for you)."
    )
    default_code = "price_missing"


# --- Helpers -----------------------------------------------------------------------


def _key_prefix(user: User) -> str:
    """Namespace of a user's idempotency keys: the id alone repeats when a database is reset
    (a user id is reused) while Stripe still remembers keys for 24 hours."""
    return f"user-{user.pk}-{int(user.date_joined.timestamp() * 1_000_000)}"


def _customer_ensure(account: BillingAccount, user: User) -> str:
    """The user's Stripe customer id; created once (lock + unique + idempotency key)."""
    if account.stripe_customer_id:
        return account.stripe_customer_id
    customer = stripe_client.customer_create(
        email=user.email,
        name=user.name or user.get_full_name() or user.username,
        metadata={"user_id": str(user.pk), "djstripe_subscriber": str(user.pk)},
        idempotency_key=f"{_key_prefix(user)}-customer-{account.customer_generation}",
    )
    account_link_customer(account, customer["id"])
    djstripe_sync(customer)
    return customer["id"]


def _subscription_key(account: BillingAccount, user: User) -> str:
    """Same key for every retry until an attempt is answered; a new one per answered attempt.

    Built only from stored state that changes when an attempt ends (the previous
    subscription, the time of the last answered purchase), never from a random value, and
    not from the request: a retry with *another card* after a lost answer reuses the key, so
    Stripe refuses it (``idempotency_error``) instead of creating a second subscription.
    """
    last = int(account.last_purchase_at.timestamp() * 1_000_000) if account.last_purchase_at else 0
    previous = account.subscription_id or "none"
    return f"{_key_prefix(user)}-subscription-after-{previous}-{last}"


def _client_secret(subscription: Any) -> str | None:
    invoice = field(subscription, "latest_invoice")
    if invoice is None or isinstance(invoice, str):
        return None  # not expanded
    secret = field(field(invoice, "confirmation_secret"), "client_secret")
    return str(secret) if secret else None


def _answer(account: BillingAccount, subscription: Any, *, created: bool) -> Purchase:
    status = subscription["status"]
    return Purchase(
        subscription_id=subscription["id"],
        status=status,
        client_secret=_client_secret(subscription) if status == "incomplete" else None,
        premium=account.is_premium,
        created=created,
    )


def _charge_failure(subscription: Any) -> str | None:
    """Stripe's message if the first charge failed outright (not waiting for 3-D Secure)."""
    secret = _client_secret(subscription)
    if not secret or "_secret_" not in secret:
        return None
    intent = stripe_client.payment_intent_retrieve(secret.split("_secret_")[0])
    if intent["status"] == "requires_payment_method":
        message = field(field(intent, "last_payment_error"), "message")
        return str(message or PaymentFailed.default_detail)
    return None


# --- Services ----------------------------------------------------------------------


def subscription_create(*, user: User, payment_method_id: str | None = None) -> Purchase:
    """Start (or continue) the user's Premium purchase.

    Without ``payment_method_id`` the subscription is created ``default_incomplete`` and the
    answer carries the first invoice's client secret for the browser to confirm. With one,
    the card is attached, made the default and charged at once (``allow_incomplete``): a
    good card is active in this answer, a card needing 3-D Secure comes back ``incomplete``
    with a client secret, a failing card ends in 402 with nothing left open.
    """
    fingerprint = payment_method_id or BROWSER_CONFIRMATION
    failure: BillingError | None = None
    result: Purchase | None = None
    with transaction.atomic():
        account = account_lock(user)
        try:
            with stripe_errors():
                result = _purchase(account, user, payment_method_id, fingerprint)
        except BillingError as exc:
            # Commit what was made (e.g. the customer id) so a retry reuses it.
            failure = exc
    if failure is not None:
        if isinstance(failure, PaymentFailed):
            decline_record()  # the card-testing brake counts declines site-wide
        raise failure
    assert result is not None
    return result


def _purchase(
    account: BillingAccount,
    user: User,
    payment_method_id: str | None,
    fingerprint: str,
    *,
    after_unanswered: bool = False,
) -> Purchase:
    now = timezone.now()
    repeat = (
        account.last_purchase_fingerprint == fingerprint
        and account.last_purchase_at is not None
        and now - account.last_purchase_at < REPEAT_WINDOW
    )
    if account.is_premium:
        if repeat and account.subscription_id:
            return Purchase(account.subscription_id, account.stripe_status, None, True, False)
        raise AlreadyPremium()

    if account.subscription_id and account.stripe_status == "incomplete":
        open_sub = stripe_client.subscription_retrieve(account.subscription_id)
        account_apply_subscription(account, open_sub)
        if open_sub["status"] == "incomplete":
            if payment_method_id is None or repeat:
                # The browser confirms the same first invoice again, with any card.
                return _answer(account, open_sub, created=False)
            # A new card for an open attempt: close it, then charge the new card.
            account_apply_subscription(account, stripe_client.subscription_cancel(open_sub["id"]))
        elif account.is_premium:
            return _answer(account, open_sub, created=False)
    elif account.subscription_id and account.stripe_status in entitlement.NON_TERMINAL_STATUSES:
        # The row may lag Stripe (a renewal whose webhook is not processed yet): read the
        # subscription again before selling a second one beside it.
        account_apply_subscription(
            account, stripe_client.subscription_retrieve(account.subscription_id)
        )
        if account.is_premium:
            raise AlreadyPremium()

    price = price_get()
    customer_id = _customer_ensure(account, user)
    if payment_method_id:
        stripe_client.payment_method_attach(
            payment_method_id=payment_method_id, customer_id=customer_id
        )
        stripe_client.customer_set_default_payment_method(
            customer_id=customer_id, payment_method_id=payment_method_id
        )
    try:
        subscription = stripe_client.subscription_create(
            customer_id=customer_id,
            price_id=price.id,
            payment_method_id=payment_method_id,
            metadata={"user_id": str(user.pk)},
            idempotency_key=_subscription_key(account, user),
        )
    except stripe.IdempotencyError:
        if after_unanswered:
            raise
        # An earlier attempt under this key was never answered (Stripe may have created its
        # subscription) and this request differs from it (another card): read what the
        # customer has, store it, and decide again as if that answer had arrived.
        _account_catch_up(account, customer_id)
        return _purchase(account, user, payment_method_id, fingerprint, after_unanswered=True)
    account.last_purchase_fingerprint = fingerprint
    account.last_purchase_at = now
    account.save(update_fields=["last_purchase_fingerprint", "last_purchase_at", "updated_at"])

    if payment_method_id and subscription["status"] == "incomplete":
        message = _charge_failure(subscription)
        if message is not None:
            # Leave nothing half-made: the unpaid subscription is closed at once.
            stripe_client.subscription_cancel(subscription["id"])
            raise PaymentFailed(detail=message)

    account_apply_subscription(account, subscription)
    return _answer(account, subscription, created=True)


def _account_catch_up(account: BillingAccount, customer_id: str) -> None:
    """Store the customer's subscription as Stripe has it now (after an unanswered attempt)."""
    subscriptions = stripe_client.subscription_list(customer_id)
    chosen = entitlement.choose_subscription(subscriptions)  # type: ignore[arg-type]
    if chosen is None:
        raise StripeFailed()  # Stripe refused the key yet has no subscription: retry later
    account_apply_subscription(account, chosen)


def subscription_sync(*, user: User) -> dict[str, Any]:
    """Re-read the user's subscriptions from Stripe now and store the entitlement."""
    with transaction.atomic():
        account = account_lock(user)
        if account.stripe_customer_id:
            with stripe_errors():
                account_sync(account)
        return entitlement.status_object(account)


def subscription_cancel(*, user: User, at_period_end: bool = True) -> dict[str, Any]:
    """Cancel the caller's own subscription: at the end of the paid period, or now."""
    with transaction.atomic():
        account = account_lock(user)
        if not account.subscription_id or account.stripe_status in (
            "canceled",
            "incomplete_expired",
        ):
            raise NoSubscription()
        with stripe_errors():
            if at_period_end and account.stripe_status != "incomplete":
                subscription = stripe_client.subscription_set_cancel_at_period_end(
                    account.subscription_id, cancel=True
                )
            else:
                subscription = stripe_client.subscription_cancel(account.subscription_id)
            account_apply_subscription(account, subscription)
        return entitlement.status_object(account)


def subscription_resume(*, user: User) -> dict[str, Any]:
    """Undo a cancel-at-period-end while the paid period still runs."""
    with transaction.atomic():
        account = account_lock(user)
        if not account.subscription_id or not account.cancel_at_period_end:
            raise NothingToResume()
        if not account.is_premium:
            raise NothingToResume(detail="The paid period has already ended; buy Premium again.")
        with stripe_errors():
            subscription = stripe_client.subscription_set_cancel_at_period_end(
                account.subscription_id, cancel=False
            )
            account_apply_subscription(account, subscription)
        return entitlement.status_object(account)
