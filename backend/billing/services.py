"""What a user asks of billing: buying, syncing, cancelling and resuming Premium; after the
purchase, the card on file, the invoices and paying them, Stripe's customer portal.

Every write takes the per-user lock (the user's ``BillingAccount`` row, selected for
update) for its whole run, so two requests of one user never interleave; Stripe writes
carry deterministic idempotency keys, so a retry after a timeout never creates a second
customer or subscription. Stripe is reached only through :mod:`billing.stripe_client`;
the row and what is stored on it are :mod:`billing.account_state`'s, re-reading a customer
from Stripe is :mod:`billing.sync`'s.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User

from . import entitlement, plan_changes, plans, promotions, stripe_client
from .account_state import (
    account_apply_subscription,
    account_link_customer,
    account_lock,
    account_mark_had_subscription,
)
from .djstripe_sync import djstripe_sync
from .exceptions import (
    AlreadyPremium,
    BillingError,
    InvalidPaymentMethod,
    NoSubscription,
    NothingToResume,
    PaymentFailed,
    StripeFailed,
    stripe_errors,
)
from .models import BillingAccount
from .presenters import card_object, invoice_object
from .stripe_objects import field, iso, object_id, timestamp
from .sync import account_sync
from .throttling import decline_record

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A second create-subscription with the same body this soon gets the first answer.
REPEAT_WINDOW = timedelta(minutes=10)
BROWSER_CONFIRMATION = "browser-confirmation"


@dataclass(frozen=True)
class Purchase:
    subscription_id: str
    status: str
    client_secret: str | None
    premium: bool
    created: bool
    trial_end: str | None = None  # ISO, while trialing

    def as_dict(self) -> dict[str, Any]:
        secret = self.client_secret
        # What the browser confirms: the first invoice's PaymentIntent, or (a trial) the
        # subscription's pending SetupIntent (stripe.confirmSetup).
        intent_type = None
        if secret:
            intent_type = "setup" if secret.startswith("seti_") else "payment"
        return {
            "subscription_id": self.subscription_id,
            "status": self.status,
            "client_secret": secret,
            "premium": self.premium,
            "intent_type": intent_type,
            "trial_end": self.trial_end,
        }


@dataclass(frozen=True)
class Offer:
    """What a purchase asks for beside the price: a promotion code (as typed), or the free
    trial (never both: the serializer refuses that)."""

    promotion_code: str = ""
    trial: bool = False

    def fingerprint(self) -> str:
        """The offer's part of "the same request" (codes match in any case, as at Stripe)."""
        code = f":code={self.promotion_code.casefold()}" if self.promotion_code else ""
        return code + (":trial" if self.trial else "")

    def matches(self, subscription: Any) -> bool:
        """Whether an open subscription was made for this offer (its metadata says)."""
        metadata = field(subscription, "metadata") or {}
        made_with = str(field(metadata, "promotion_code") or "").casefold()
        return not self.trial and made_with == self.promotion_code.casefold()


class TrialNotAvailable(BillingError):
    status_code = 409  # type: ignore[assignment]
    default_detail = "The free trial is only for a first subscription."
    default_code = "trial_not_available"


# --- The price ---------------------------------------------------------------------

#: The monthly price and the catalogue (billing.plans); here for the views and many callers.
price_get = plans.price_get
prices_get = plans.prices_get


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


def _setup_secret(subscription: Any) -> str | None:
    """A trial's pending SetupIntent secret while the card is still to be confirmed."""
    intent = field(subscription, "pending_setup_intent")
    if intent is None or isinstance(intent, str):
        return None  # none, or not expanded
    if field(intent, "status") in ("succeeded", "canceled"):
        return None
    secret = field(intent, "client_secret")
    return str(secret) if secret else None


def _answer(account: BillingAccount, subscription: Any, *, created: bool) -> Purchase:
    status = subscription["status"]
    secret = None
    if status == "incomplete":
        secret = _client_secret(subscription)
    elif status == "trialing":
        secret = _setup_secret(subscription)
    trial_end = timestamp(field(subscription, "trial_end")) if status == "trialing" else None
    return Purchase(
        subscription_id=subscription["id"],
        status=status,
        client_secret=secret,
        premium=account.is_premium,
        created=created,
        trial_end=iso(trial_end),
    )


def _fingerprint(request: str) -> str:
    """A request's fingerprint as stored (the column holds 255 characters: a longer one, a
    card id and a code together, is kept as its hash)."""
    if len(request) <= 255:
        return request
    return "sha256:" + hashlib.sha256(request.encode()).hexdigest()


def _offer_terms(
    account: BillingAccount, price: plans.PriceInfo, offer: Offer
) -> tuple[promotions.Promotion | None, int | None]:
    """``(promotion code, trial days)`` of a new subscription, checked before anything is
    made: an invalid code is 400 ``invalid_promotion_code``; a trial for someone who had a
    subscription (the stored flag, or Stripe's history of the customer when the row does not
    know it yet) or with trials off is 409 ``trial_not_available``."""
    if offer.trial:
        if settings.BILLING_TRIAL_DAYS <= 0:
            raise TrialNotAvailable(detail="There is no free trial at the moment.")
        customer_id = account.stripe_customer_id
        if account.had_subscription or (
            customer_id and promotions.customer_bought_before(customer_id)
        ):
            account_mark_had_subscription(account)
            raise TrialNotAvailable()
        return None, int(settings.BILLING_TRIAL_DAYS)
    if offer.promotion_code:
        promotion = promotions.promotion_code_check(
            code=offer.promotion_code,
            product_id=price.product_id,
            currency=price.currency,
            unit_amount=price.unit_amount,
            customer_id=account.stripe_customer_id,
            bought_before=account.had_subscription,
        )
        return promotion, None
    return None, None


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


def subscription_create(
    *,
    user: User,
    payment_method_id: str | None = None,
    price: object = None,
    offer: Offer | None = None,
) -> Purchase:
    """Start (or continue) the user's Premium purchase, at ``price`` (an id or lookup key of
    one of our prices, :func:`plans.price_resolve`; None: monthly; anything else is 400
    ``invalid_price`` before Stripe is asked).

    Without ``payment_method_id`` the subscription is created ``default_incomplete`` and the
    answer carries the first invoice's client secret for the browser to confirm. With one,
    the card is attached, made the default and charged at once (``allow_incomplete``): a
    good card is active in this answer, a card needing 3-D Secure comes back ``incomplete``
    with a client secret, a failing card ends in 402 with nothing left open.

    ``offer``: a promotion code (checked first: 400 ``invalid_promotion_code``, also when
    Stripe refuses it at the create after all; the subscription gets it as its discount) or
    the free trial (409 ``trial_not_available`` for
    someone who had a subscription; the subscription starts ``trialing`` and the answer's
    ``client_secret`` is its pending SetupIntent's, for the card).
    """
    offer = offer or Offer()
    chosen = plans.price_resolve(price)
    # The price is part of what makes a repeat "the same request": a repeat at another price
    # is a new purchase (and an open attempt at another price is closed, below).
    fingerprint = _fingerprint(
        f"{payment_method_id or BROWSER_CONFIRMATION}:{chosen.id}{offer.fingerprint()}"
    )
    failure: BillingError | None = None
    result: Purchase | None = None
    with transaction.atomic():
        account = account_lock(user)
        try:
            with stripe_errors():
                result = _purchase(
                    account, user, payment_method_id, fingerprint, chosen, offer=offer
                )
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
    price: plans.PriceInfo,
    *,
    offer: Offer,
    after_unanswered: bool = False,
) -> Purchase:
    now = timezone.now()
    repeat = (
        account.last_purchase_fingerprint == fingerprint
        and account.last_purchase_at is not None
        and now - account.last_purchase_at < REPEAT_WINDOW
    )
    if account.is_premium:
        trial_again = repeat or (after_unanswered and offer.trial)
        if trial_again and account.subscription_id and account.stripe_status == "trialing":
            # A trial's answer carries the SetupIntent the browser may not have confirmed yet
            # (also after a lost answer: without the card, the trial would just end).
            trial = stripe_client.subscription_retrieve_trial(account.subscription_id)
            account_apply_subscription(account, trial)
            return _answer(account, trial, created=False)
        if repeat and account.subscription_id:
            return Purchase(account.subscription_id, account.stripe_status, None, True, False)
        raise AlreadyPremium()

    terms: tuple[promotions.Promotion | None, int | None] | None = None
    if account.subscription_id and account.stripe_status == "incomplete":
        open_sub = stripe_client.subscription_retrieve(account.subscription_id)
        account_apply_subscription(account, open_sub)
        if open_sub["status"] == "incomplete":
            same_price = entitlement.subscription_price_id(open_sub) == price.id
            same = same_price and offer.matches(open_sub)
            if same and (payment_method_id is None or repeat):
                # The browser confirms the same first invoice again, with any card.
                return _answer(account, open_sub, created=False)
            # A new card, another price, code or the trial, for an open attempt: close it,
            # then start anew (the new terms checked first: an invalid code leaves it open).
            terms = _offer_terms(account, price, offer)
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

    if offer.trial and account.stripe_customer_id and not after_unanswered:
        # A trial Stripe made for an attempt whose answer was lost is not in the row yet, and
        # Stripe's history would call it a "second" trial: store what Stripe has and decide
        # again, as if that answer had arrived (above: the trial's answer).
        stored = account.subscription_id
        subscriptions = stripe_client.subscription_list(account.stripe_customer_id)
        if any(
            field(sub, "id") != stored and field(sub, "status") in entitlement.LIVE_STATUSES
            for sub in subscriptions
        ):
            _account_catch_up(account, account.stripe_customer_id)
            return _purchase(
                account, user, payment_method_id, fingerprint, price, offer=offer,
                after_unanswered=True,
            )  # fmt: skip
    promotion, trial_days = terms or _offer_terms(account, price, offer)
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
            metadata={
                "user_id": str(user.pk),
                # What the open attempt was made for (Offer.matches); Stripe keeps the discount.
                **({"promotion_code": promotion.code} if promotion else {}),
            },
            idempotency_key=_subscription_key(account, user),
            trial_period_days=trial_days,
            promotion_code_id=promotion.promotion_code_id if promotion else None,
        )
    except stripe.InvalidRequestError as exc:
        if promotion is None or not promotions.discount_refused(exc):
            raise
        # Stripe refused the code our check let through (used up in between, or a rule of
        # Stripe's own). Nothing was created, and the attempt is answered: the next purchase
        # gets a new key, so it is not Stripe replaying this refusal for 24 hours.
        logger.info("Stripe refused promotion code %s at the purchase: %s",
                    promotion.promotion_code_id, exc.user_message)  # fmt: skip
        _attempt_answered(account, fingerprint, now)
        raise promotions.promotion_refused(
            code=offer.promotion_code,
            product_id=price.product_id,
            currency=price.currency,
            unit_amount=price.unit_amount,
            customer_id=customer_id,
            bought_before=account.had_subscription,
        ) from exc
    except stripe.IdempotencyError:
        if after_unanswered:
            raise
        # An earlier attempt under this key was never answered (Stripe may have created its
        # subscription) and this request differs from it (another card): read what the
        # customer has, store it, and decide again as if that answer had arrived.
        _account_catch_up(account, customer_id)
        return _purchase(
            account, user, payment_method_id, fingerprint, price, offer=offer,
            after_unanswered=True,
        )  # fmt: skip
    _attempt_answered(account, fingerprint, now)

    if payment_method_id and subscription["status"] == "incomplete":
        message = _charge_failure(subscription)
        if message is not None:
            # Leave nothing half-made: the unpaid subscription is closed at once.
            stripe_client.subscription_cancel(subscription["id"])
            raise PaymentFailed(detail=message)

    account_apply_subscription(account, subscription)
    return _answer(account, subscription, created=True)


def _attempt_answered(account: BillingAccount, fingerprint: str, now: datetime) -> None:
    """Record that Stripe answered a purchase attempt: its request, for the repeat window, and
    its time, which moves :func:`_subscription_key` on to a new key."""
    account.last_purchase_fingerprint = fingerprint
    account.last_purchase_at = now
    account.save(update_fields=["last_purchase_fingerprint", "last_purchase_at", "updated_at"])


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
                # A plan change scheduled (a subscription schedule) goes first: Stripe refuses
                # a cancellation of a subscription its schedule manages.
                plan_changes.schedule_release(
                    stripe_client.subscription_retrieve(account.subscription_id)
                )
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


# --- Promotion codes --------------------------------------------------------------------


def promotion_code_preview(*, user: User, code: str, price: object = None) -> dict[str, Any]:
    """Check the promotion code ``code`` for buying ``price`` (default monthly) and say what
    the first invoice will charge with it, from Stripe's invoice preview for the user's
    customer (created first if the user has none: the preview is then exactly the purchase's).

    400 ``invalid_price``, or ``invalid_promotion_code`` with the reason's sentence
    (:mod:`billing.promotions`); an invalid code creates nothing.
    """
    chosen = plans.price_resolve(price)

    def work(account: BillingAccount) -> dict[str, Any]:
        promotion = promotions.promotion_code_check(
            code=code,
            product_id=chosen.product_id,
            currency=chosen.currency,
            unit_amount=chosen.unit_amount,
            customer_id=account.stripe_customer_id,
            bought_before=account.had_subscription,
        )
        customer_id = _customer_ensure(account, user)
        first = promotions.promotion_first_invoice(
            customer_id=customer_id,
            price_id=chosen.id,
            unit_amount=chosen.unit_amount,
            promotion_code_id=promotion.promotion_code_id,
        )
        return {
            "code": promotion.code,
            "promotion_code_id": promotion.promotion_code_id,
            "percent_off": promotion.percent_off,
            "amount_off": promotion.amount_off,
            "duration": promotion.duration,
            "duration_in_months": promotion.duration_in_months,
            "price": chosen.as_dict(),
            "amount": first.amount,
            "discount": first.discount,
            "first_amount": first.first_amount,
            "currency": first.currency or chosen.currency,
            "description": promotion.description(interval=chosen.interval),
        }

    return _account_work(user, work)


# --- After the purchase: the card, the invoices, the portal --------------------------------

#: How strict an invoice id must be before Stripe is asked about it (like ``pm_...`` ids).
INVOICE_ID = re.compile(r"^in_[A-Za-z0-9_]{1,200}$")
INVOICES_PAGE = 10


class InvoiceNotFound(BillingError):
    status_code = 404  # type: ignore[assignment]
    default_detail = "You have no invoice with that id."
    default_code = "not_found"


class InvoiceNotOpen(BillingError):
    status_code = 409  # type: ignore[assignment]
    default_detail = "Only an open invoice can be paid."
    default_code = "invoice_not_open"


class NoPaymentMethod(BillingError):
    status_code = 409  # type: ignore[assignment]
    default_detail = "You have no card on file to pay with: add one first."
    default_code = "no_payment_method"


class NoCustomer(BillingError):
    status_code = 404  # type: ignore[assignment]
    default_detail = "You have no billing account with us yet: buy Premium first."
    default_code = "no_customer"


class PortalDisabled(BillingError):
    status_code = 404  # type: ignore[assignment]
    default_detail = "Managing billing on Stripe's portal is not offered on this site."
    default_code = "not_found"


def _account_work(user: User, work: Callable[[BillingAccount], T]) -> T:
    """Run ``work`` on the user's locked row, Stripe errors as API answers.

    What was stored before a billing error is committed, not rolled back: a customer made
    on the way, or the sync after a declined charge, is what Stripe now has.
    """
    with transaction.atomic():
        account = account_lock(user)
        try:
            with stripe_errors():
                return work(account)
        except BillingError as exc:
            failure = exc  # leaves the block normally: the transaction commits
    raise failure


def _live_subscription_id(account: BillingAccount) -> str:
    """The stored subscription if it still renews (so its card matters), else ``""``."""
    live = account.subscription_id and account.stripe_status in entitlement.LIVE_STATUSES
    return account.subscription_id if live else ""


def _renewal_payment_method(customer_id: str, subscription_id: str) -> Any:
    """The payment method renewals charge: the subscription's default, else the customer's
    (Stripe's own order). Expanded, or None."""
    if subscription_id:
        subscription = stripe_client.subscription_retrieve_payment_method(subscription_id)
        method = field(subscription, "default_payment_method")
        if method is not None and not isinstance(method, str):
            return method
    customer = stripe_client.customer_retrieve(
        customer_id, expand=["invoice_settings.default_payment_method"]
    )
    method = field(field(customer, "invoice_settings"), "default_payment_method")
    return method if method is not None and not isinstance(method, str) else None


def payment_method_get(*, user: User) -> dict[str, Any]:
    """``{"payment_method": card | None}``: the card the next renewal will charge."""
    account = BillingAccount.objects.filter(user_id=user.pk).first()
    if account is None or not account.stripe_customer_id:
        return {"payment_method": None}  # no customer, no card: Stripe is not asked
    with stripe_errors():
        method = _renewal_payment_method(account.stripe_customer_id, _live_subscription_id(account))
    return {"payment_method": card_object(method)}


def setup_intent_create(*, user: User) -> dict[str, Any]:
    """A SetupIntent's ``client_secret`` for the browser to collect a new card
    (``stripe.confirmSetup``); the user's Stripe customer is created first if needed."""

    def work(account: BillingAccount) -> dict[str, Any]:
        customer_id = _customer_ensure(account, user)
        intent = stripe_client.setup_intent_create(
            customer_id=customer_id, metadata={"user_id": str(user.pk)}
        )
        return {"client_secret": intent["client_secret"]}

    return _account_work(user, work)


def _own_payment_method(customer_id: str, payment_method_id: str) -> tuple[Any, bool]:
    """``(payment method, attached now)``: ``payment_method_id`` as the customer's own,
    attached by this call if it is nobody's yet.

    A card of another customer (theirs by a SetupIntent, a purchase or an attach) is refused
    (400) before anything changes; a card the bank refuses when it is attached is 402.
    """
    try:
        method = stripe_client.payment_method_retrieve(payment_method_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing" or exc.http_status == 404:
            raise InvalidPaymentMethod(detail="There is no card with that id.") from exc
        raise
    owner = object_id(field(method, "customer"))
    if owner and owner != customer_id:
        raise InvalidPaymentMethod(detail="That card is not one of yours.")
    if owner:
        return method, False
    # Attach the retrieved id: a Stripe test id (pm_card_visa) names a new card each time.
    method = stripe_client.payment_method_attach(
        payment_method_id=method["id"], customer_id=customer_id
    )
    return method, True


def _payment_method_release(user: User, payment_method_id: str) -> None:
    """Detach a card this request attached and then could not use (its charge was refused),
    so the customer keeps no card they were told was not saved.

    Best effort: the decline is the answer, so a Stripe failure here is logged, not raised
    (the card stays attached but is nobody's default). The key is deterministic: Stripe never
    lets a detached card be attached again, so one detach per card is all there is.
    """
    try:
        stripe_client.payment_method_detach(
            payment_method_id=payment_method_id,
            idempotency_key=f"{_key_prefix(user)}-payment-method-detach-{payment_method_id}",
        )
    except stripe.StripeError as exc:
        logger.warning("Refused card %s left attached: %s", payment_method_id, exc)


def _invoice_charge(account: BillingAccount, invoice: Any, method_id: str) -> Any:
    """Pay the open ``invoice`` now with ``method_id``, the customer present.

    Returns the invoice with its PaymentIntent expanded: ``paid``, or ``open`` with the intent
    waiting for 3-D Secure. A refused card is 402 with Stripe's sentence, after a sync (the
    failed attempt is news: the payment problem may have changed).

    Never charged twice: the caller holds the account's lock and has just read the invoice
    ``open`` (a double click or a retry after a lost answer reads it ``paid``: 409), and
    stripe-python's own retries of the call reuse its idempotency key. No key of ours: one
    kept across requests would replay a decline for 24 hours after the customer topped up.
    """
    invoice_id = str(invoice["id"])
    try:
        return stripe_client.invoice_pay(invoice_id, payment_method_id=method_id)
    except stripe.StripeError as exc:
        if exc.code == "invoice_payment_intent_requires_action":
            # Stripe's answer (402) when the bank wants 3-D Secure: the invoice stays open,
            # its PaymentIntent waits for the browser.
            return stripe_client.invoice_retrieve(
                invoice_id, expand=stripe_client.INVOICE_INTENT_EXPAND
            )
        if not isinstance(exc, stripe.CardError):
            raise
        try:
            account_sync(account)
        except stripe.StripeError as sync_exc:  # the decline is the answer; a webhook follows
            logger.warning("No sync after a declined invoice payment: %s", sync_exc)
        raise PaymentFailed(detail=exc.user_message or PaymentFailed.default_detail) from exc


def payment_method_set(*, user: User, payment_method_id: str) -> dict[str, Any]:
    """Make ``payment_method_id`` the card of the user's renewals.

    Attached to the user's customer if it is nobody's yet (another customer's card: 400).
    If the live subscription's latest invoice is open (a failed or unconfirmed renewal), it is
    paid with the new card first: a refused card is 402, the old card stays the default and
    the refused one is detached again if this call attached it, nothing half-changed. Then
    the card becomes the default of the customer (``invoice_settings.default_payment_method``)
    and of the live subscription (and of its running schedule, a plan change scheduled, whose
    next phase would otherwise put the old card back), and the account is synced, so this
    answer (``subscription``) is already premium/active after a paid invoice.
    ``invoice`` is that invoice (with ``client_secret`` if it waits for 3-D Secure), else None.
    """

    def work(account: BillingAccount) -> dict[str, Any]:
        customer_id = _customer_ensure(account, user)
        method, attached = _own_payment_method(customer_id, payment_method_id)
        subscription_id = _live_subscription_id(account)
        subscription = (
            stripe_client.subscription_retrieve(subscription_id) if subscription_id else None
        )
        charged = None
        if subscription is not None:
            latest = field(subscription, "latest_invoice")
            if latest is not None and not isinstance(latest, str) and latest["status"] == "open":
                try:
                    charged = _invoice_charge(account, latest, method["id"])
                except PaymentFailed:
                    # A card the customer had before this call stays theirs; only ours goes.
                    if attached:
                        _payment_method_release(user, method["id"])
                    raise
        stripe_client.customer_set_default_payment_method(
            customer_id=customer_id, payment_method_id=method["id"]
        )
        if subscription_id:
            stripe_client.subscription_set_default_payment_method(
                subscription_id, payment_method_id=method["id"]
            )
            # A scheduled plan change: its next phase would put the old card back.
            plan_changes.schedule_payment_method_set(subscription, payment_method_id=method["id"])
        account_sync(account)
        return {
            "payment_method": card_object(method),
            "invoice": invoice_object(charged) if charged is not None else None,
            "subscription": entitlement.status_object(account),
        }

    try:
        return _account_work(user, work)
    except PaymentFailed:
        decline_record()  # the card-testing brake counts declines site-wide
        raise


def _own_invoice(account: BillingAccount, invoice_id: str) -> Any:
    """The caller's invoice ``invoice_id`` with its PaymentIntent; 404 for anything else
    (malformed, unknown, or another customer's: the same answer, so nothing leaks)."""
    if not INVOICE_ID.fullmatch(invoice_id) or not account.stripe_customer_id:
        raise InvoiceNotFound()
    try:
        invoice = stripe_client.invoice_retrieve(
            invoice_id, expand=stripe_client.INVOICE_INTENT_EXPAND
        )
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing" or exc.http_status == 404:
            raise InvoiceNotFound() from exc
        raise
    if object_id(field(invoice, "customer")) != account.stripe_customer_id:
        raise InvoiceNotFound()
    return invoice


def invoices_list(
    *, user: User, starting_after: str | None = None, limit: int = INVOICES_PAGE
) -> dict[str, Any]:
    """``{"results": [invoice object...], "has_more"}``: the user's invoices, newest first,
    ``limit`` of them after the invoice ``starting_after`` (which must be the user's: 404)."""
    account = BillingAccount.objects.filter(user_id=user.pk).first()
    if account is None or not account.stripe_customer_id:
        if starting_after:
            raise InvoiceNotFound(detail="starting_after: You have no invoice with that id.")
        return {"results": [], "has_more": False}
    with stripe_errors():
        if starting_after:
            try:
                _own_invoice(account, starting_after)
            except InvoiceNotFound as exc:
                raise InvoiceNotFound(
                    detail="starting_after: You have no invoice with that id."
                ) from exc
        invoices, has_more = stripe_client.invoice_list(
            account.stripe_customer_id, limit=limit, starting_after=starting_after
        )
        # An open invoice may wait for 3-D Secure: its PaymentIntent says (one call each; a
        # customer rarely has more than one open invoice).
        shown = [
            stripe_client.invoice_retrieve(inv["id"], expand=stripe_client.INVOICE_INTENT_EXPAND)
            if field(inv, "status") == "open"
            else inv
            for inv in invoices
        ]
    return {"results": [invoice_object(inv) for inv in shown], "has_more": has_more}


def invoice_pay(*, user: User, invoice_id: str) -> dict[str, Any]:
    """Pay the user's open invoice ``invoice_id`` now with the card renewals charge.

    The invoice object: ``paid``, or ``open`` with ``client_secret`` when the bank wants
    3-D Secure (the browser confirms it, then calls ``subscription/sync/``). 404 for an
    invoice that is not the user's, 409 if it is not open or no card is on file, 402 if the
    card is refused. The account is synced after the payment.
    """

    def work(account: BillingAccount) -> dict[str, Any]:
        invoice = _own_invoice(account, invoice_id)
        if invoice["status"] != "open":
            raise InvoiceNotOpen(
                detail=f"This invoice is {invoice['status']}: only an open invoice can be paid."
            )
        subscription_id = object_id(
            field(field(field(invoice, "parent"), "subscription_details"), "subscription")
        )
        method = _renewal_payment_method(str(account.stripe_customer_id), subscription_id)
        if method is None:
            raise NoPaymentMethod()
        charged = _invoice_charge(account, invoice, str(method["id"]))
        account_sync(account)
        return invoice_object(charged)

    return _account_work(user, work)


def portal_session_create(*, user: User) -> dict[str, Any]:
    """``{"url"}`` of a Stripe customer portal session that returns to the app's /account.

    Only where ``BILLING_PORTAL_ENABLED`` (the portal must be configured at Stripe): else 404.
    """
    if not settings.BILLING_PORTAL_ENABLED:
        raise PortalDisabled()
    account = BillingAccount.objects.filter(user_id=user.pk).first()
    if account is None or not account.stripe_customer_id:
        raise NoCustomer()
    with stripe_errors():
        session = stripe_client.billing_portal_session_create(
            customer_id=account.stripe_customer_id, return_url=f"{settings.SITE_URL}/account"
        )
    return {"url": session["url"]}
