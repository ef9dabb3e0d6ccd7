"""Every Stripe call of the app goes through this module.

One configured :class:`stripe.StripeClient` (timeouts, bounded network retries, the API
host) and small named functions that pass a deterministic idempotency key on every
write, so a retried request can never create a second customer or subscription.
``CALLS`` counts the calls per operation name, for tests and benchmarks.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

CALLS: Counter[str] = Counter()
_lock = threading.Lock()
_client: stripe.StripeClient | None = None
_client_key: tuple[str, str, float, int] | None = None


def client() -> stripe.StripeClient:
    """The process-wide client, rebuilt if the settings it depends on change (tests)."""
    global _client, _client_key
    key = (
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_HOST_OVERRIDE,
        settings.STRIPE_TIMEOUT_SECONDS,
        settings.STRIPE_MAX_NETWORK_RETRIES,
    )
    with _lock:
        if _client is None or _client_key != key:
            base = (
                {"api": settings.STRIPE_API_HOST_OVERRIDE}
                if settings.STRIPE_API_HOST_OVERRIDE
                else None
            )
            _client = stripe.StripeClient(
                settings.STRIPE_SECRET_KEY,
                base_addresses=base,  # type: ignore[arg-type]
                max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
                http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
            )
            _client_key = key
        return _client


def _count(name: str) -> None:
    CALLS[name] += 1
    logger.debug("stripe call %s", name)


def _opts(idempotency_key: str | None) -> dict[str, Any]:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


# --- Products and prices ----------------------------------------------------------


def price_by_lookup_key(lookup_key: str) -> stripe.Price | None:
    _count("prices.list")
    found = client().v1.prices.list(
        params={"lookup_keys": [lookup_key], "active": True, "expand": ["data.product"], "limit": 1}
    )
    return found.data[0] if found.data else None


def price_retrieve(price_id: str) -> stripe.Price:
    _count("prices.retrieve")
    return client().v1.prices.retrieve(price_id, params={"expand": ["product"]})


def product_find(*, metadata_key: str, metadata_value: str) -> stripe.Product | None:
    """An active product tagged with ``metadata[metadata_key] == metadata_value``."""
    _count("products.list")
    for product in client().v1.products.list(params={"active": True, "limit": 100}).data:
        metadata = product.to_dict().get("metadata") or {}
        if metadata.get(metadata_key) == metadata_value:
            return product
    return None


def product_create(
    *, name: str, description: str, metadata: dict[str, str], idempotency_key: str
) -> stripe.Product:
    _count("products.create")
    return client().v1.products.create(
        params={"name": name, "description": description, "metadata": metadata},
        options=_opts(idempotency_key),  # type: ignore[arg-type]
    )


def price_create(
    *, product_id: str, unit_amount: int, currency: str, interval: str, lookup_key: str
) -> stripe.Price:
    _count("prices.create")
    return client().v1.prices.create(
        params={
            "product": product_id,
            "unit_amount": unit_amount,
            "currency": currency,
            "recurring": {"interval": interval},  # type: ignore[typeddict-item]
            "lookup_key": lookup_key,
            "expand": ["product"],
        },
        options=_opts(f"price-{lookup_key}-{product_id}"),  # type: ignore[arg-type]
    )


# --- Customers and payment methods ------------------------------------------------


def customer_create(
    *, email: str, name: str, metadata: dict[str, str], idempotency_key: str
) -> stripe.Customer:
    _count("customers.create")
    return client().v1.customers.create(
        params={"email": email, "name": name, "metadata": metadata},
        options=_opts(idempotency_key),  # type: ignore[arg-type]
    )


def customer_retrieve(customer_id: str, *, expand: list[str] | None = None) -> stripe.Customer:
    _count("customers.retrieve")
    params: dict[str, Any] = {"expand": expand} if expand else {}
    return client().v1.customers.retrieve(customer_id, params=params)  # type: ignore[arg-type]


def payment_method_retrieve(payment_method_id: str) -> stripe.PaymentMethod:
    _count("payment_methods.retrieve")
    return client().v1.payment_methods.retrieve(payment_method_id)


def payment_method_attach(*, payment_method_id: str, customer_id: str) -> stripe.PaymentMethod:
    _count("payment_methods.attach")
    return client().v1.payment_methods.attach(
        payment_method_id,
        params={"customer": customer_id},
    )


def payment_method_detach(*, payment_method_id: str, idempotency_key: str) -> stripe.PaymentMethod:
    """Take the card off its customer. A second detach is an error at Stripe (the card is no
    customer's any more), so a retried request replays the first answer through the key."""
    _count("payment_methods.detach")
    return client().v1.payment_methods.detach(
        payment_method_id,
        options=_opts(idempotency_key),  # type: ignore[arg-type]
    )


def customer_set_default_payment_method(
    *, customer_id: str, payment_method_id: str
) -> stripe.Customer:
    _count("customers.update")
    return client().v1.customers.update(
        customer_id,
        params={"invoice_settings": {"default_payment_method": payment_method_id}},
    )


# --- Subscriptions ----------------------------------------------------------------

#: Every subscription the app stores comes with these: the first invoice's payment secret, and
#: its schedule (the plan change it holds is stored too: billing/entitlement.py).
SUBSCRIPTION_EXPAND = ["latest_invoice.confirmation_secret", "schedule"]


def subscription_create(
    *,
    customer_id: str,
    price_id: str,
    payment_method_id: str | None,
    metadata: dict[str, str],
    idempotency_key: str,
    trial_period_days: int | None = None,
    promotion_code_id: str | None = None,
) -> stripe.Subscription:
    """``default_incomplete`` without a card (the browser confirms), else charge now.

    ``trial_period_days``: a free trial (``trialing`` at once, a USD 0 first invoice); its
    ``pending_setup_intent`` (expanded) collects the card in the browser, and a trial that
    ends with no card is cancelled, not left unpaid. ``promotion_code_id``: the
    subscription's discount.
    """
    params: dict[str, Any] = {
        "customer": customer_id,
        "items": [{"price": price_id}],
        "metadata": metadata,
        "expand": SUBSCRIPTION_EXPAND,
        "payment_settings": {"save_default_payment_method": "on_subscription"},
    }
    if trial_period_days:
        params["trial_period_days"] = trial_period_days
        params["trial_settings"] = {"end_behavior": {"missing_payment_method": "cancel"}}
        params["expand"] = [*SUBSCRIPTION_EXPAND, "pending_setup_intent"]
    if promotion_code_id:
        params["discounts"] = [{"promotion_code": promotion_code_id}]
    if payment_method_id:
        params["default_payment_method"] = payment_method_id
        params["payment_behavior"] = "allow_incomplete"
    else:
        params["payment_behavior"] = "default_incomplete"
    _count("subscriptions.create")
    return client().v1.subscriptions.create(params=params, options=_opts(idempotency_key))  # type: ignore[arg-type]


def subscription_retrieve(subscription_id: str) -> stripe.Subscription:
    _count("subscriptions.retrieve")
    return client().v1.subscriptions.retrieve(
        subscription_id, params={"expand": SUBSCRIPTION_EXPAND}
    )


def subscription_list(customer_id: str) -> list[stripe.Subscription]:
    _count("subscriptions.list")
    page = client().v1.subscriptions.list(
        params={
            "customer": customer_id,
            "status": "all",
            "limit": 20,
            "expand": ["data.schedule"],  # the plan change it holds (billing/entitlement.py)
        }
    )
    return list(page.data)


def subscription_set_cancel_at_period_end(
    subscription_id: str, *, cancel: bool
) -> stripe.Subscription:
    """Setting a flag is naturally idempotent; stripe-python adds keys to its own retries."""
    _count("subscriptions.update")
    return client().v1.subscriptions.update(
        subscription_id, params={"cancel_at_period_end": cancel, "expand": SUBSCRIPTION_EXPAND}
    )


def subscription_retrieve_payment_method(subscription_id: str) -> stripe.Subscription:
    """The subscription with its ``default_payment_method`` expanded (the card renewals charge)."""
    _count("subscriptions.retrieve")
    return client().v1.subscriptions.retrieve(
        subscription_id, params={"expand": ["default_payment_method"]}
    )


def subscription_set_default_payment_method(
    subscription_id: str, *, payment_method_id: str
) -> stripe.Subscription:
    """Setting a default is naturally idempotent; stripe-python adds keys to its own retries."""
    _count("subscriptions.update")
    return client().v1.subscriptions.update(
        subscription_id,
        params={"default_payment_method": payment_method_id, "expand": SUBSCRIPTION_EXPAND},
    )


# --- Invoices -----------------------------------------------------------------------

#: Expanding this on an invoice brings its PaymentIntent (current API: through ``payments``).
INVOICE_INTENT_EXPAND = ["payments.data.payment.payment_intent"]


def invoice_retrieve(invoice_id: str, *, expand: list[str] | None = None) -> stripe.Invoice:
    _count("invoices.retrieve")
    params: dict[str, Any] = {"expand": expand} if expand else {}
    return client().v1.invoices.retrieve(invoice_id, params=params)  # type: ignore[arg-type]


def invoice_list(
    customer_id: str, *, limit: int, starting_after: str | None = None
) -> tuple[list[stripe.Invoice], bool]:
    """One page of the customer's invoices, newest first, and whether more follow."""
    params: dict[str, Any] = {"customer": customer_id, "limit": limit}
    if starting_after:
        params["starting_after"] = starting_after
    _count("invoices.list")
    page = client().v1.invoices.list(params=params)  # type: ignore[arg-type]
    return list(page.data), bool(page.has_more)


def invoice_pay(invoice_id: str, *, payment_method_id: str) -> stripe.Invoice:
    """Charge ``invoice`` now with ``payment_method_id``, the customer present (on session:
    the bank may ask for 3-D Secure, which the browser then completes). The idempotency key
    is stripe-python's own, one per call, kept across its network retries."""
    _count("invoices.pay")
    return client().v1.invoices.pay(
        invoice_id,
        params={
            "payment_method": payment_method_id,
            "off_session": False,
            "expand": INVOICE_INTENT_EXPAND,
        },
    )


# --- Saving a card, the hosted portal -----------------------------------------------


def setup_intent_create(*, customer_id: str, metadata: dict[str, str]) -> stripe.SetupIntent:
    """A SetupIntent to save a card for renewals (off session). A new one per call: an
    unconfirmed SetupIntent costs nothing, so a retry needs no stored key."""
    _count("setup_intents.create")
    return client().v1.setup_intents.create(
        params={
            "customer": customer_id,
            "usage": "off_session",
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
    )


def billing_portal_session_create(
    *, customer_id: str, return_url: str
) -> stripe.billing_portal.Session:
    """A short-lived link to Stripe's hosted customer portal (a new session per call)."""
    _count("billing_portal.sessions.create")
    return client().v1.billing_portal.sessions.create(
        params={"customer": customer_id, "return_url": return_url}
    )


def event_retrieve(event_id: str) -> stripe.Event:
    _count("events.retrieve")
    return client().v1.events.retrieve(event_id)


def payment_intent_retrieve(payment_intent_id: str) -> stripe.PaymentIntent:
    _count("payment_intents.retrieve")
    return client().v1.payment_intents.retrieve(payment_intent_id)


def subscription_cancel(subscription_id: str) -> stripe.Subscription:
    """Cancel now. Cancelling is idempotent at Stripe: no key needed."""
    _count("subscriptions.cancel")
    return client().v1.subscriptions.cancel(subscription_id)


# --- Issue 15: the demo promotion code (create_stripe_data) --------------------------------


def coupon_retrieve(coupon_id: str) -> stripe.Coupon | None:
    """The coupon ``coupon_id`` (``applies_to`` expanded), or None if Stripe has none by that id."""
    _count("coupons.retrieve")
    try:
        return client().v1.coupons.retrieve(coupon_id, params={"expand": ["applies_to"]})
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing" or exc.http_status == 404:
            return None
        raise


def coupon_create(*, params: dict[str, Any], idempotency_key: str) -> stripe.Coupon:
    _count("coupons.create")
    return client().v1.coupons.create(params=params, options=_opts(idempotency_key))  # type: ignore[arg-type]


def promotion_codes_by_code(code: str, *, active: bool | None = None) -> list[stripe.PromotionCode]:
    """The promotion codes with this customer-facing ``code`` (Stripe matches it
    case-insensitively), their coupon expanded with its ``applies_to``."""
    params: dict[str, Any] = {
        "code": code,
        "limit": 10,
        "expand": ["data.promotion.coupon.applies_to"],
    }
    if active is not None:
        params["active"] = active
    _count("promotion_codes.list")
    return list(client().v1.promotion_codes.list(params=params).data)  # type: ignore[arg-type]


def promotion_code_create(
    *, coupon_id: str, code: str, idempotency_key: str, metadata: dict[str, str]
) -> stripe.PromotionCode:
    _count("promotion_codes.create")
    return client().v1.promotion_codes.create(
        params={
            "promotion": {"type": "coupon", "coupon": coupon_id},
            "code": code,
            "metadata": metadata,
        },
        options=_opts(idempotency_key),  # type: ignore[arg-type]
    )


# --- Issue 15: changing plans (a prorated upgrade now, a schedule for the end of the year) --

#: A changed subscription with its schedule and its latest invoice (the prorated charge; its
#: PaymentIntent is one level too deep to expand here: Stripe stops at 4).
SUBSCRIPTION_PLAN_EXPAND = ["schedule", "latest_invoice"]


def invoice_preview_price_change(
    *, customer_id: str, subscription_id: str, item_id: str, price_id: str, proration_date: int
) -> stripe.Invoice:
    """Stripe's preview of the invoice that switching the item to ``price_id`` now would
    charge (``always_invoice``), prorated at ``proration_date``. Creates nothing."""
    _count("invoices.create_preview")
    return client().v1.invoices.create_preview(
        params={
            "customer": customer_id,
            "subscription": subscription_id,
            "subscription_details": {
                "items": [{"id": item_id, "price": price_id}],
                "proration_behavior": "always_invoice",
                "proration_date": proration_date,
            },
        }
    )


def subscription_change_price(
    subscription_id: str,
    *,
    item_id: str,
    price_id: str,
    proration_date: int,
    idempotency_key: str,
) -> stripe.Subscription:
    """Switch the item to ``price_id`` now and charge the prorated difference at once.

    ``pending_if_incomplete``: if the charge fails or waits for 3-D Secure, Stripe keeps the
    subscription as it was and holds the change as ``pending_update`` until the invoice is
    paid. The key (from the stored state and the preview's ``proration_date``) makes a retry
    after a lost answer get the same answer, never a second charge.
    """
    _count("subscriptions.update")
    return client().v1.subscriptions.update(
        subscription_id,
        params={
            "items": [{"id": item_id, "price": price_id}],
            "proration_behavior": "always_invoice",
            "proration_date": proration_date,
            "payment_behavior": "pending_if_incomplete",
            "expand": SUBSCRIPTION_PLAN_EXPAND,
        },
        options=_opts(idempotency_key),  # type: ignore[arg-type]
    )


def invoice_void(invoice_id: str) -> stripe.Invoice:
    """Void an open invoice (a declined upgrade: its pending update goes with it)."""
    _count("invoices.void")
    return client().v1.invoices.void_invoice(invoice_id)


def subscription_schedule_from_subscription(
    subscription_id: str, *, idempotency_key: str
) -> stripe.SubscriptionSchedule:
    """A schedule that takes over the subscription (one phase: what it is now)."""
    _count("subscription_schedules.create")
    return client().v1.subscription_schedules.create(
        params={"from_subscription": subscription_id},
        options=_opts(idempotency_key),  # type: ignore[arg-type]
    )


def subscription_schedule_retrieve(schedule_id: str) -> stripe.SubscriptionSchedule:
    _count("subscription_schedules.retrieve")
    return client().v1.subscription_schedules.retrieve(schedule_id)


def subscription_schedule_set_phases(
    schedule_id: str, *, phases: list[dict[str, Any]], idempotency_key: str
) -> stripe.SubscriptionSchedule:
    """Replace the schedule's phases; at the end of the last one the subscription is released
    (it goes on by itself on the last phase's price)."""
    _count("subscription_schedules.update")
    return client().v1.subscription_schedules.update(
        schedule_id,
        params={"phases": phases, "end_behavior": "release"},  # type: ignore[arg-type]
        options=_opts(idempotency_key),  # type: ignore[arg-type]
    )


def subscription_schedule_set_default_payment_method(
    schedule_id: str, *, payment_method_id: str
) -> stripe.SubscriptionSchedule:
    """The card the schedule's phases charge (``default_settings``): a phase that starts puts
    it on the subscription, so a card changed since the schedule was made must go here too.
    Setting a default is naturally idempotent; stripe-python adds keys to its own retries."""
    _count("subscription_schedules.update")
    return client().v1.subscription_schedules.update(
        schedule_id,
        params={"default_settings": {"default_payment_method": payment_method_id}},
    )


def subscription_schedule_release(schedule_id: str) -> stripe.SubscriptionSchedule:
    """Release the schedule: the subscription stays as it is now, with no change to come.
    Releasing twice is an error at Stripe; the caller reads the schedule's status first."""
    _count("subscription_schedules.release")
    return client().v1.subscription_schedules.release(schedule_id)


# --- Issue 15: trials and promotion codes ----------------------------------------------------


def subscription_retrieve_trial(subscription_id: str) -> stripe.Subscription:
    """The subscription with its trial's ``pending_setup_intent`` expanded (the card the
    browser still has to confirm), besides the first invoice's secret."""
    _count("subscriptions.retrieve")
    return client().v1.subscriptions.retrieve(
        subscription_id, params={"expand": [*SUBSCRIPTION_EXPAND, "pending_setup_intent"]}
    )


def invoice_preview_new_subscription(
    *, customer_id: str, price_id: str, promotion_code_id: str
) -> stripe.Invoice:
    """Stripe's preview of the first invoice of a new subscription of the customer to
    ``price_id`` with the promotion code as its discount. Creates nothing."""
    _count("invoices.create_preview")
    return client().v1.invoices.create_preview(
        params={
            "customer": customer_id,
            "subscription_details": {"items": [{"price": price_id}]},
            "discounts": [{"promotion_code": promotion_code_id}],
        }
    )


def invoice_preview_upcoming(subscription_id: str) -> stripe.Invoice:
    """Stripe's preview of the subscription's next invoice (after a trial: its first charge)."""
    _count("invoices.create_preview")
    return client().v1.invoices.create_preview(params={"subscription": subscription_id})
