"""Promotion codes: the code a customer typed, found at Stripe and checked, and what the first
invoice will charge with it (docs/api.md, ``POST promotion-code/``).

A code is looked up by Stripe's own list filter (``code``, matched case-insensitively at
Stripe; compared again here so that nothing else can slip through) and checked against what
Stripe would refuse at the purchase, one sentence per reason:

=====================================================  ==========================================
the code is unknown, malformed, or another customer's  "This code does not exist."
past its ``expires_at``, or its coupon's ``redeem_by``  "This code has expired."
``active`` false, or its coupon no longer ``valid``     "This code is no longer active."
``max_redemptions`` reached (the code's or coupon's)    "This code has been used up."
its coupon's ``applies_to.products`` lacks Premium's     "This code does not apply to Premium."
product (or an ``amount_off`` in another currency)
``restrictions.first_time_transaction`` and the          "This code is for a first purchase only."
customer has paid before or had a subscription
``restrictions.minimum_amount`` above the price          "This code needs a first payment of at
                                                         least ..."
=====================================================  ==========================================

The first amount is never computed here: :func:`promotion_first_invoice` asks Stripe for the
invoice preview of exactly the subscription the purchase would create (the customer, the price,
the code), so what the page shows is what Stripe then charges. Nothing here writes to Stripe or
to the database; :mod:`billing.services` holds the account lock and brings the customer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import stripe
from django.utils import timezone

from . import entitlement, stripe_client
from .exceptions import BillingError
from .stripe_objects import field, object_id, timestamp

logger = logging.getLogger(__name__)

#: What a code may look like before Stripe is asked about it (Stripe's codes are letters and
#: digits; dashes and underscores are let through so that a typo gets "does not exist").
CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}

NOT_FOUND = "This code does not exist."
EXPIRED = "This code has expired."
INACTIVE = "This code is no longer active."
USED_UP = "This code has been used up."
NOT_PREMIUM = "This code does not apply to Premium."
FIRST_PURCHASE_ONLY = "This code is for a first purchase only."
NOT_APPLICABLE = "This code cannot be used for this purchase."


class InvalidPromotionCode(BillingError):
    status_code = 400  # type: ignore[assignment]
    default_detail = NOT_FOUND
    default_code = "invalid_promotion_code"


@dataclass(frozen=True)
class Promotion:
    """A promotion code that passed the checks, and its coupon's terms."""

    code: str  # as Stripe spells it
    promotion_code_id: str
    percent_off: float | None
    amount_off: int | None
    currency: str | None  # of ``amount_off``
    duration: str  # once | repeating | forever
    duration_in_months: int | None

    def description(self, *, interval: str) -> str:
        """``"50% off the first payment"``, ``"$5.00 off the first 3 months"``..."""
        if self.percent_off is not None:
            off = f"{self.percent_off:g}% off"
        else:
            off = f"{money(self.amount_off or 0, self.currency or 'usd')} off"
        if self.duration == "forever":
            return f"{off} every payment"
        if self.duration == "repeating" and self.duration_in_months:
            months = self.duration_in_months
            if interval == "year":  # a yearly price is invoiced once in that time
                return f"{off} the first payment"
            return f"{off} the first {months} months" if months > 1 else f"{off} the first month"
        return f"{off} the first payment"


@dataclass(frozen=True)
class FirstInvoice:
    """Stripe's preview of the first invoice of a new subscription with the code."""

    amount: int  # before the discount
    discount: int
    first_amount: int  # what the first invoice charges
    currency: str


def money(amount: int, currency: str) -> str:
    """``2000, "usd"`` → ``"$20.00"`` (the descriptions' only money; e-mails have their own)."""
    symbol = CURRENCY_SYMBOLS.get(currency.lower())
    value = f"{amount / 100:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"


def _invalid(sentence: str) -> InvalidPromotionCode:
    return InvalidPromotionCode(detail=sentence)


def _coupon(promotion_code: Any) -> Any:
    """The code's coupon with ``applies_to`` (current API: ``promotion.coupon``; older API
    versions: ``coupon``); read again if it came as an id or without ``applies_to``
    (Stripe includes that field only when asked)."""
    coupon = field(field(promotion_code, "promotion"), "coupon") or field(promotion_code, "coupon")
    if coupon is None:
        return None
    if isinstance(coupon, str) or field(coupon, "applies_to", "absent") == "absent":
        return stripe_client.coupon_retrieve(object_id(coupon))  # None: deleted
    return coupon


def _expired(value: Any) -> bool:
    moment = timestamp(value)
    return moment is not None and moment <= timezone.now()


def _used_up(obj: Any) -> bool:
    limit = field(obj, "max_redemptions")
    return limit is not None and int(field(obj, "times_redeemed") or 0) >= int(limit)


def customer_bought_before(customer_id: str) -> bool:
    """Whether a Stripe customer has bought before: a subscription that got past
    ``incomplete`` (it is live, or had a trial), or any paid invoice (a cancelled paid
    subscription leaves one; a purchase given up leaves none). Stripe's own rule for
    first-time-only codes is "no successful payment or invoice"; the free trial uses it too."""
    for subscription in stripe_client.subscription_list(customer_id):
        if field(subscription, "trial_start") or field(subscription, "trial_end"):
            return True
        if field(subscription, "status") in entitlement.LIVE_STATUSES | {"paused"}:
            return True
    invoices, _ = stripe_client.invoice_list(customer_id, limit=100)
    return any(field(invoice, "status") == "paid" for invoice in invoices)


def promotion_code_check(
    *,
    code: str,
    product_id: str,
    currency: str,
    unit_amount: int,
    customer_id: str | None,
    bought_before: bool,
) -> Promotion:
    """The promotion code ``code`` if it may be used to buy the price (``product_id``,
    ``currency``, ``unit_amount``) now by this customer; else :class:`InvalidPromotionCode`
    with the sentence of the first reason (see the module docstring).

    ``customer_id`` is the buyer's Stripe customer (None: none yet); ``bought_before`` what
    the stored account already knows (a first-time-only code then asks Stripe no more).
    """
    typed = code.strip()
    if not CODE_SHAPE.fullmatch(typed):
        raise _invalid(NOT_FOUND)
    found = [
        promotion_code
        for promotion_code in stripe_client.promotion_codes_by_code(typed)
        if str(field(promotion_code, "code") or "").casefold() == typed.casefold()
    ]
    if not found:
        raise _invalid(NOT_FOUND)
    # Stripe keeps a code unique among the active ones only: an old inactive copy may remain.
    found.sort(key=lambda p: (bool(field(p, "active")), int(field(p, "created") or 0)))
    promotion_code = found[-1]
    owner = object_id(field(promotion_code, "customer"))
    if owner and owner != customer_id:
        raise _invalid(NOT_FOUND)  # another customer's code: nothing about it is told
    if _expired(field(promotion_code, "expires_at")):
        raise _invalid(EXPIRED)
    coupon = _coupon(promotion_code)
    if coupon is None:
        raise _invalid(INACTIVE)  # its coupon is gone (deleted at Stripe)
    # Stripe turns a code inactive when its coupon stops being valid: the coupon's own reason
    # (expired, used up) is the better sentence, so it is asked first.
    if _expired(field(coupon, "redeem_by")):
        raise _invalid(EXPIRED)
    if _used_up(promotion_code) or _used_up(coupon):
        raise _invalid(USED_UP)
    if not field(promotion_code, "active") or field(coupon, "valid") is False:
        raise _invalid(INACTIVE)
    products = field(field(coupon, "applies_to"), "products")
    if products is not None and product_id not in list(products):
        raise _invalid(NOT_PREMIUM)
    amount_off = field(coupon, "amount_off")
    if amount_off is not None and str(field(coupon, "currency") or "").lower() != currency.lower():
        raise _invalid(NOT_PREMIUM)
    restrictions = field(promotion_code, "restrictions")
    minimum = field(restrictions, "minimum_amount")
    minimum_currency = str(field(restrictions, "minimum_amount_currency") or currency)
    if minimum and minimum_currency.lower() == currency.lower() and unit_amount < int(minimum):
        raise _invalid(
            f"This code needs a first payment of at least {money(int(minimum), currency)}."
        )
    first_only = bool(field(restrictions, "first_time_transaction"))
    if first_only and (bought_before or (customer_id and customer_bought_before(customer_id))):
        raise _invalid(FIRST_PURCHASE_ONLY)
    percent_off = field(coupon, "percent_off")
    return Promotion(
        code=str(field(promotion_code, "code")),
        promotion_code_id=str(field(promotion_code, "id")),
        percent_off=float(percent_off) if percent_off is not None else None,
        amount_off=int(amount_off) if amount_off is not None else None,
        currency=str(field(coupon, "currency") or "") or None,
        duration=str(field(coupon, "duration") or "once"),
        duration_in_months=field(coupon, "duration_in_months"),
    )


def discount_refused(exc: stripe.InvalidRequestError) -> bool:
    """Whether Stripe's 400 is about the discount (its ``param`` names ``discounts[...]``, the
    promotion code or the coupon): the code, not the request, is what Stripe refused."""
    return str(exc.param or "").startswith(("discounts", "promotion_code", "coupon"))


def promotion_refused(
    *,
    code: str,
    product_id: str,
    currency: str,
    unit_amount: int,
    customer_id: str | None,
    bought_before: bool,
) -> InvalidPromotionCode:
    """The 400 for a code Stripe refused after :func:`promotion_code_check` let it through
    (used up, expired or deactivated in between, or a rule of Stripe's own): the check's
    sentence if it now finds the reason, else "This code cannot be used for this purchase."
    A Stripe failure while asking again is logged: the refusal is the answer either way."""
    try:
        promotion_code_check(
            code=code,
            product_id=product_id,
            currency=currency,
            unit_amount=unit_amount,
            customer_id=customer_id,
            bought_before=bought_before,
        )
    except InvalidPromotionCode as exc:
        return exc
    except stripe.StripeError as exc:
        logger.warning("No second check of a refused promotion code: %s", exc)
    return _invalid(NOT_APPLICABLE)


def promotion_first_invoice(
    *, customer_id: str, price_id: str, unit_amount: int, promotion_code_id: str
) -> FirstInvoice:
    """What the first invoice of a new subscription to ``price_id`` with the promotion code
    charges, from Stripe's invoice preview (``create_preview``) for this customer.

    Stripe refusing the code in the preview (a rule not checked above) is
    :class:`InvalidPromotionCode`; any other Stripe error propagates.
    """
    try:
        preview = stripe_client.invoice_preview_new_subscription(
            customer_id=customer_id, price_id=price_id, promotion_code_id=promotion_code_id
        )
    except stripe.InvalidRequestError as exc:
        if discount_refused(exc):
            # Stripe's own words may name ids: the customer gets our sentence, the log Stripe's.
            logger.info("Stripe refused promotion code %s in a preview: %s",
                        promotion_code_id, exc.user_message)  # fmt: skip
            raise _invalid(NOT_APPLICABLE) from exc
        raise
    amounts = field(preview, "total_discount_amounts") or []
    total = int(field(preview, "total") or 0)
    discount = sum(int(field(item, "amount") or 0) for item in amounts)
    return FirstInvoice(
        amount=unit_amount,
        discount=discount if amounts else max(0, unit_amount - total),
        first_amount=int(field(preview, "amount_due") or 0),
        currency=str(field(preview, "currency") or ""),
    )
