"""Coupons, promotion codes and discounts, in the current API shape (2026-08-26.dahlia).

Reproduces (localstripe gaps in brackets):

* ``POST /v1/coupons`` with ``percent_off`` (0 < x <= 100) or ``amount_off`` + ``currency``,
  ``duration`` ``once`` (the default) / ``repeating`` (+ ``duration_in_months``) / ``forever``,
  ``applies_to[products][]``, ``redeem_by``, ``max_redemptions``, ``name``, ``metadata``, ``id``
  (else a random one); ``times_redeemed`` and ``valid`` (false once ``redeem_by`` has passed or
  ``max_redemptions`` is reached); ``POST /v1/coupons/{id}`` (``name``, ``metadata``);
  ``DELETE``; ``coupon.created/updated/deleted`` [localstripe: no name, applies_to, limits or
  validity, a bare 409 for a taken id].
* ``POST /v1/promotion_codes`` with ``promotion[type]=coupon`` + ``promotion[coupon]`` (the
  current shape: the object has ``promotion: {type, coupon}``, no top-level ``coupon``),
  ``code`` (letters, digits, dashes; generated when absent; unique among active codes regardless
  of case), ``active``, ``customer``, ``expires_at``, ``max_redemptions``,
  ``restrictions[first_time_transaction|minimum_amount|minimum_amount_currency]``, ``metadata``;
  ``GET /v1/promotion_codes/{id}``, ``POST /v1/promotion_codes/{id}`` (``active``, ``metadata``),
  ``GET /v1/promotion_codes`` filtered by ``code`` (case-insensitive, as Stripe matches codes),
  ``active``, ``coupon``, ``customer``; ``expand[]=promotion.coupon`` (``data.promotion.coupon``
  on lists); ``promotion_code.created/updated`` [localstripe: none].
* ``discounts[][promotion_code|coupon]`` on ``POST /v1/subscriptions`` (and on updates, where
  ``discounts[][discount]`` keeps an existing one and ``discounts=""`` removes them all): checked
  before anything is created — an unknown id, an inactive / expired / used-up code, a code of
  another customer, ``first_time_transaction`` for a customer with a paid invoice, a coupon that
  is no longer valid or that applies to none of the subscription's products — each a 400
  ``invalid_request_error`` with ``param: discounts[0][promotion_code]`` (or ``[coupon]``). A
  redemption is counted on the coupon and the promotion code when the discount is created.
* ``Discount`` objects (``di_...``): the subscription's ``discounts`` is their ids (``expand[]
  =discounts`` gives them, ``discounts.source.coupon`` their coupon), with ``source: {type:
  "coupon", coupon}``, ``promotion_code``, ``start``, ``end`` (``repeating``: start + N months);
  ``customer.discount.created``.
* Invoices: ``discounts``, ``total_discount_amounts: [{amount, discount}]``, each line's
  ``discount_amounts``, and ``total`` / ``amount_due`` / ``total_excluding_tax`` net of them
  (``subtotal`` and line ``amount`` stay gross, as Stripe shows them). ``percent_off`` is rounded
  per line; ``amount_off`` is capped at what it applies to; prorations are not discounted. A
  ``once`` discount applies to the first invoice that costs something — Stripe ignores coupons
  on zero-cost invoices and does not count them as used (API change 2013-10-29), so a trial's
  USD 0 invoice leaves it for the first invoice after the trial — and is then dropped from the
  subscription at its next invoice; ``repeating`` applies to invoices made before its ``end``;
  ``forever`` to all.
* :func:`preview_discounts` / :func:`attach_preview_discounts`: the same checks and amounts for
  ``POST /v1/invoices/create_preview`` with ``discounts[]``, so a preview charges exactly what the
  subscription's first invoice will.

Not reproduced: ``currency_options``, customer-level and invoice-item discounts, coupons on
one-off invoices, ``promotion_code.minimum_amount`` beyond comparing with the first invoice's
subtotal, ``customer.discount.updated/deleted`` events. Some refusal sentences are the stand-in's
own wording where Stripe's exact text is not published (the ``code``/``param`` follow Stripe).
"""

from __future__ import annotations

import re
import secrets
import string
import time
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from localstripe import resources as R

from ..errors import StripeError, invalid_request
from .events import emit
from .export import unknown_parameter

DURATIONS = ("forever", "once", "repeating")
CODE_RE = re.compile(r"^[A-Za-z0-9-]{1,500}$")
MAX_DISCOUNTS = 20

#: what ``apply()`` wrapped (captured then, so patches applied before ours are kept)
_prev: dict[str, Any] = {}


# -- parameter helpers -------------------------------------------------------------------------


def _int(value, param: str, minimum: int | None = None) -> int | None:
    if value is None:
        return None
    converted = R.try_convert_to_int(value)
    if not isinstance(converted, int) or isinstance(converted, bool):
        raise invalid_request(f"Invalid integer: {value}", param=param)
    if minimum is not None and converted < minimum:
        raise invalid_request(
            f"Invalid {param}: must be greater than or equal to {minimum}", param=param
        )
    return converted


def _bool(value, param: str) -> bool | None:
    if value is None:
        return None
    converted = R.try_convert_to_bool(value)
    if not isinstance(converted, bool):
        raise invalid_request(f"Invalid boolean: {value}", param=param)
    return converted


def _metadata(value, current: dict | None = None) -> dict:
    if value is None:
        return dict(current or {})
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid_request("Invalid object", param="metadata")
    merged = dict(current or {})
    for key, item in value.items():
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = str(item)
    return merged


def _add_months(ts: int, months: int) -> int:
    return int((datetime.fromtimestamp(ts) + relativedelta(months=months)).timestamp())


# -- coupons -----------------------------------------------------------------------------------


def coupon_init(
    self,
    id=None,
    duration=None,
    amount_off=None,
    percent_off=None,
    currency=None,
    metadata=None,
    duration_in_months=None,
    name=None,
    applies_to=None,
    redeem_by=None,
    max_redemptions=None,
    currency_options=None,
    **kwargs,
):
    unknown_parameter(kwargs)
    amount_off = _int(amount_off, "amount_off", minimum=1)
    if percent_off is not None:
        converted = R.try_convert_to_float(percent_off)
        if not isinstance(converted, float) or not 0 < converted <= 100:
            raise invalid_request(
                "Invalid percent_off: must be greater than 0 and at most 100.", param="percent_off"
            )
        percent_off = converted
    if (amount_off is None) == (percent_off is None):
        raise invalid_request("You must pass exactly one of `percent_off` or `amount_off`.")
    if amount_off is not None and not (isinstance(currency, str) and currency):
        raise invalid_request(
            "You must pass a `currency` when creating a coupon with `amount_off`.",
            param="currency",
        )
    duration = duration or "once"
    if duration not in DURATIONS:
        raise invalid_request(
            "Invalid duration: must be one of forever, once, or repeating", param="duration"
        )
    duration_in_months = _int(duration_in_months, "duration_in_months", minimum=1)
    if duration == "repeating" and duration_in_months is None:
        raise invalid_request(
            "You must pass `duration_in_months` when `duration` is `repeating`.",
            param="duration_in_months",
        )
    if duration != "repeating" and duration_in_months is not None:
        raise invalid_request(
            "`duration_in_months` can only be set when `duration` is `repeating`.",
            param="duration_in_months",
        )
    products = None
    if applies_to is not None:
        if not isinstance(applies_to, dict) or not isinstance(applies_to.get("products"), list):
            raise invalid_request("Invalid applies_to[products]", param="applies_to[products]")
        products = [str(p) for p in applies_to["products"]]
        for i, product in enumerate(products):
            if R.store.get("product:" + product) is None:
                raise invalid_request(
                    f"No such product: '{product}'",
                    code="resource_missing",
                    param=f"applies_to[products][{i}]",
                )
    redeem_by = _int(redeem_by, "redeem_by")
    if redeem_by is not None and redeem_by <= time.time():
        raise invalid_request("Invalid redeem_by: must be in the future", param="redeem_by")
    max_redemptions = _int(max_redemptions, "max_redemptions", minimum=1)
    if name is not None and (not isinstance(name, str) or len(name) > 40):
        raise invalid_request("Invalid name: at most 40 characters", param="name")
    if id is not None:
        if not isinstance(id, str) or not id:
            raise invalid_request("Invalid string", param="id")
        if R.store.get("coupon:" + id) is not None:
            raise invalid_request("Coupon already exists.", code="resource_already_exists")
    else:
        alphabet = string.ascii_letters + string.digits
        id = "".join(secrets.choice(alphabet) for _ in range(8))
    R.StripeObject.__init__(self, id)
    self.amount_off = amount_off
    self.percent_off = percent_off
    self.currency = currency.lower() if isinstance(currency, str) else None
    self.duration = duration
    self.duration_in_months = duration_in_months
    self.metadata = _metadata(metadata)
    self.name = name or None
    self.applies_to = {"products": products} if products is not None else None
    self.redeem_by = redeem_by
    self.max_redemptions = max_redemptions
    self.times_redeemed = 0
    self.currency_options = None
    emit("coupon.created", self)


def coupon_valid(self) -> bool:
    """Stripe: a coupon is valid until ``redeem_by`` or ``max_redemptions`` (or deletion)."""
    if getattr(self, "_fs_deleted", False):
        return False
    if self.redeem_by is not None and self.redeem_by <= time.time():
        return False
    return self.max_redemptions is None or self.times_redeemed < self.max_redemptions


def coupon_update(cls, id, metadata=None, name=None, currency_options=None, **kwargs):
    unknown_parameter(kwargs)
    coupon = cls._api_retrieve(id)
    before = coupon._export()
    if metadata is not None:
        coupon.metadata = _metadata(metadata, coupon.metadata)
    if name is not None:
        if not isinstance(name, str) or len(name) > 40:
            raise invalid_request("Invalid name: at most 40 characters", param="name")
        coupon.name = name or None
    after = coupon._export()
    previous = {k: v for k, v in before.items() if after.get(k) != v}
    if previous:
        emit("coupon.updated", coupon, previous_attributes=previous)
    return coupon


def coupon_delete(cls, id):
    """Deleting a coupon stops new redemptions; discounts already made keep working."""
    coupon = cls._api_retrieve(id)
    coupon._fs_deleted = True
    emit("coupon.deleted", coupon)
    del R.store["coupon:" + id]
    return R.DeletedObject(id, "coupon")


def _coupon_shape(self, obj):
    obj["object"] = "coupon"
    obj["valid"] = coupon_valid(self)
    for key in ("name", "redeem_by", "max_redemptions"):
        obj.setdefault(key, None)
    # Stripe includes these two only when expanded (``expand[]=applies_to``).
    obj.pop("applies_to", None)
    obj.pop("currency_options", None)
    return obj


COUPON_INCLUDABLE = {
    "applies_to": lambda self, rest: getattr(self, "applies_to", None),
    "currency_options": lambda self, rest: None,
}


# -- promotion codes ---------------------------------------------------------------------------


def _active_codes(code: str, customer: str | None, exclude: str | None = None) -> list:
    return [
        p
        for key, p in R.store.items()
        if key.startswith("promotion_code:")
        and p.id != exclude
        and p._fs_active
        and p.code.lower() == code.lower()
        and (p.customer is None or customer is None or p.customer == customer)
    ]


class PromotionCode(R.StripeObject):
    object = "promotion_code"
    _id_prefix = "promo_"

    def __init__(
        self,
        promotion=None,
        code=None,
        active=None,
        customer=None,
        customer_account=None,
        expires_at=None,
        max_redemptions=None,
        metadata=None,
        restrictions=None,
        **kwargs,
    ):
        unknown_parameter(kwargs)
        if not isinstance(promotion, dict):
            raise invalid_request("Missing required param: promotion.", param="promotion")
        if promotion.get("type") != "coupon":
            raise invalid_request(
                "Invalid promotion[type]: must be coupon", param="promotion[type]"
            )
        coupon_id = promotion.get("coupon")
        if not isinstance(coupon_id, str) or not coupon_id:
            raise invalid_request(
                "Missing required param: promotion[coupon].", param="promotion[coupon]"
            )
        coupon = R.store.get("coupon:" + coupon_id)
        if coupon is None:
            raise invalid_request(
                f"No such coupon: '{coupon_id}'",
                code="resource_missing",
                param="promotion[coupon]",
            )
        if code is None:
            alphabet = string.ascii_uppercase + string.digits
            code = "".join(secrets.choice(alphabet) for _ in range(8))
        if not isinstance(code, str) or not CODE_RE.match(code):
            raise invalid_request(
                "Invalid code: only letters (a-z, A-Z), digits (0-9) and dashes (-) are allowed.",
                param="code",
            )
        active = _bool(active, "active")
        active = True if active is None else active
        if customer is not None and (
            not isinstance(customer, str) or R.store.get("customer:" + customer) is None
        ):
            raise invalid_request(
                f"No such customer: '{customer}'", code="resource_missing", param="customer"
            )
        expires_at = _int(expires_at, "expires_at")
        if expires_at is not None and expires_at <= time.time():
            raise invalid_request("Invalid expires_at: must be in the future", param="expires_at")
        if (
            expires_at is not None
            and coupon.redeem_by is not None
            and expires_at > coupon.redeem_by
        ):
            raise invalid_request(
                "The promotion code's `expires_at` cannot be after the coupon's `redeem_by`.",
                param="expires_at",
            )
        max_redemptions = _int(max_redemptions, "max_redemptions", minimum=1)
        if (
            max_redemptions is not None
            and coupon.max_redemptions is not None
            and max_redemptions > coupon.max_redemptions
        ):
            raise invalid_request(
                "The promotion code's `max_redemptions` cannot be greater than the coupon's.",
                param="max_redemptions",
            )
        restrictions = _restrictions(restrictions)
        if active and _active_codes(code, customer):
            raise invalid_request(
                f"An active promotion code with `code: {code}` already exists.", param="code"
            )
        super().__init__()
        self.code = code
        self.customer = customer
        self.customer_account = None
        self.expires_at = expires_at
        self.max_redemptions = max_redemptions
        self.metadata = _metadata(metadata)
        self.restrictions = restrictions
        self.times_redeemed = 0
        self._fs_active = active
        self._fs_coupon = coupon
        emit("promotion_code.created", self)

    @property
    def active(self) -> bool:
        # Stripe: "A promotion code is only active if the coupon is also valid."
        return self._fs_active and coupon_valid(self._fs_coupon)

    @property
    def promotion(self) -> dict:
        return {"coupon": self._fs_coupon.id, "type": "coupon"}

    @classmethod
    def _api_update(cls, id, active=None, metadata=None, restrictions=None, **kwargs):
        unknown_parameter(kwargs)
        promo = cls._api_retrieve(id)
        before = promo._export()
        active = _bool(active, "active")
        if (
            active is True
            and not promo._fs_active
            and _active_codes(promo.code, promo.customer, exclude=promo.id)
        ):
            raise invalid_request(
                f"An active promotion code with `code: {promo.code}` already exists.",
                param="active",
            )
        if active is not None:
            promo._fs_active = active
        if metadata is not None:
            promo.metadata = _metadata(metadata, promo.metadata)
        if restrictions is not None and (
            not isinstance(restrictions, dict) or set(restrictions) - {"currency_options"}
        ):
            raise invalid_request(
                "Only restrictions[currency_options] can be updated.", param="restrictions"
            )
        after = promo._export()
        previous = {k: v for k, v in before.items() if after.get(k) != v}
        if previous:
            emit("promotion_code.updated", promo, previous_attributes=previous)
        return promo

    @classmethod
    def _api_delete(cls, id):
        raise StripeError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL (DELETE: /v1/promotion_codes/{id}). Promotion codes "
            "cannot be deleted; deactivate them with active=false.",
        )

    @classmethod
    def _api_list_all(
        cls,
        url,
        active=None,
        code=None,
        coupon=None,
        customer=None,
        created=None,
        limit=None,
        starting_after=None,
        **kwargs,
    ):
        active = _bool(active, "active")
        li = R.StripeObject._api_list_all.__func__(
            cls, url, limit=limit, starting_after=starting_after, **kwargs
        )
        li._list = [
            p
            for p in li._list
            if (active is None or p.active == active)
            and (code is None or p.code.lower() == str(code).lower())
            and (coupon is None or p._fs_coupon.id == coupon)
            and (customer is None or p.customer == customer)
        ]
        return li


def _restrictions(value) -> dict:
    out: dict[str, Any] = {
        "currency_options": {},  # stripe-python reads it as a dict (null would break it)
        "first_time_transaction": False,
        "minimum_amount": None,
        "minimum_amount_currency": None,
    }
    if value is None:
        return out
    if not isinstance(value, dict):
        raise invalid_request("Invalid object", param="restrictions")
    extra = set(value) - set(out)
    if extra:
        param = f"restrictions[{next(iter(extra))}]"
        raise invalid_request(f"Received unknown parameter: {param}", param=param)
    first = _bool(value.get("first_time_transaction"), "restrictions[first_time_transaction]")
    out["first_time_transaction"] = bool(first)
    out["minimum_amount"] = _int(
        value.get("minimum_amount"), "restrictions[minimum_amount]", minimum=0
    )
    currency = value.get("minimum_amount_currency")
    if (out["minimum_amount"] is None) != (currency is None):
        raise invalid_request(
            "`minimum_amount` and `minimum_amount_currency` must be passed together.",
            param="restrictions[minimum_amount_currency]",
        )
    out["minimum_amount_currency"] = str(currency).lower() if currency else None
    return out


def _expand_coupon(holder: dict, coupon, rest: list[str]) -> dict:
    """``holder["coupon"]`` (an id) expanded when ``rest`` asks for ``coupon[.sub]``."""
    if "coupon" in rest or any(r.startswith("coupon.") for r in rest):
        deeper = [r.split(".", 1)[1] for r in rest if r.startswith("coupon.")]
        holder["coupon"] = coupon._export(expand=deeper)
    return holder


def _promotion_includable(self, rest):
    return _expand_coupon(self.promotion, self._fs_coupon, rest)


# -- discounts ---------------------------------------------------------------------------------


class Discount(R.StripeObject):
    """The application of a coupon (through a promotion code or not) to a subscription."""

    object = "discount"
    _id_prefix = "di_"

    def __init__(self, coupon=None, promotion_code=None, customer=None, subscription=None):
        super().__init__()
        now = int(time.time())
        self.checkout_session = None
        self.customer = customer
        self.customer_account = None
        self.end = (
            _add_months(now, coupon.duration_in_months) if coupon.duration == "repeating" else None
        )
        self.invoice = None
        self.invoice_item = None
        self.promotion_code = promotion_code.id if promotion_code is not None else None
        self.start = now
        self.subscription = subscription
        self.subscription_item = None
        self._fs_coupon = coupon
        self._fs_used = False
        del self.created  # Stripe's Discount has no `created`

    @property
    def source(self) -> dict:
        return {"coupon": self._fs_coupon.id, "type": "coupon"}

    def _fs_applies_now(self) -> bool:
        if self._fs_coupon.duration == "once":
            return not self._fs_used
        if self._fs_coupon.duration == "repeating":
            return self.end is None or time.time() < self.end
        return True


def _discount_source_includable(self, rest):
    return _expand_coupon(self.source, self._fs_coupon, rest)


def _refuse(message: str, param: str, code: str | None = None) -> StripeError:
    return invalid_request(message, param=param, code=code)


def _customer_has_paid(customer: str | None) -> bool:
    if not customer:
        return False
    return any(
        key.startswith("invoice:")
        and inv.customer == customer
        and inv.status == "paid"
        and inv.amount_paid > 0
        for key, inv in list(R.store.items())
    )


def _check_coupon(coupon, param: str, products: list[str]) -> None:
    if not coupon_valid(coupon):
        if coupon.redeem_by is not None and coupon.redeem_by <= time.time():
            raise _refuse(f"Coupon expired: {coupon.id}", param)
        raise _refuse(f"Coupon {coupon.id} has been redeemed the maximum number of times.", param)
    applies_to = getattr(coupon, "applies_to", None)
    if applies_to and products and not set(products) & set(applies_to["products"]):
        raise _refuse(
            "This coupon cannot be redeemed because it does not apply to anything in this order.",
            param,
        )


def _check_promotion_code(promo, param: str, customer: str | None, products, subtotal) -> None:
    if not promo.active:
        raise _refuse("This promotion code is not active.", param)
    if promo.expires_at is not None and promo.expires_at <= time.time():
        raise _refuse("This promotion code has expired.", param)
    if promo.max_redemptions is not None and promo.times_redeemed >= promo.max_redemptions:
        raise _refuse(
            "This promotion code cannot be redeemed because it has been used the maximum "
            "number of times.",
            param,
        )
    if promo.customer is not None and promo.customer != customer:
        raise _refuse(
            "This promotion code cannot be redeemed because it is restricted to another customer.",
            param,
        )
    restrictions = promo.restrictions
    if restrictions.get("first_time_transaction") and _customer_has_paid(customer):
        raise _refuse(
            "This promotion code cannot be redeemed because the associated customer has prior "
            "transactions.",
            param,
        )
    minimum = restrictions.get("minimum_amount")
    if minimum is not None and subtotal is not None and subtotal < minimum:
        raise _refuse(
            "This promotion code cannot be redeemed because the order total is less than the "
            "minimum amount.",
            param,
        )
    _check_coupon(promo._fs_coupon, param, products)


def resolve(
    discounts,
    *,
    customer: str | None,
    products: list[str],
    subtotal: int | None = None,
    existing: list | None = None,
    param: str = "discounts",
) -> list[tuple]:
    """Check ``discounts[]`` as Stripe does; returns ``[(coupon, promotion_code|None,
    existing Discount|None)]``. Raises a 400 ``invalid_request_error`` for anything refused."""
    if not isinstance(discounts, list):
        raise invalid_request("Invalid array", param=param)
    if len(discounts) > MAX_DISCOUNTS:
        raise invalid_request(f"You can apply at most {MAX_DISCOUNTS} discounts.", param=param)
    out: list[tuple] = []
    seen: set[str] = set()
    for i, entry in enumerate(discounts):
        prefix = f"{param}[{i}]"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise invalid_request(
                "Each discount must have exactly one of `coupon`, `promotion_code` or `discount`.",
                param=prefix,
            )
        ((kind, value),) = entry.items()
        sub_param = f"{prefix}[{kind}]"
        if not isinstance(value, str) or not value:
            raise invalid_request("Invalid string", param=sub_param)
        if kind == "promotion_code":
            promo = R.store.get("promotion_code:" + value)
            if promo is None:
                raise invalid_request(
                    f"No such promotion code: '{value}'", code="resource_missing", param=sub_param
                )
            _check_promotion_code(promo, sub_param, customer, products, subtotal)
            coupon, found = promo._fs_coupon, (promo._fs_coupon, promo, None)
        elif kind == "coupon":
            coupon = R.store.get("coupon:" + value)
            if coupon is None:
                raise invalid_request(
                    f"No such coupon: '{value}'", code="resource_missing", param=sub_param
                )
            _check_coupon(coupon, sub_param, products)
            found = (coupon, None, None)
        elif kind == "discount":
            match = [d for d in existing or [] if d.id == value]
            if not match:
                raise invalid_request(
                    f"No such discount: '{value}'", code="resource_missing", param=sub_param
                )
            coupon, found = match[0]._fs_coupon, (match[0]._fs_coupon, None, match[0])
        else:
            raise invalid_request(f"Received unknown parameter: {sub_param}", param=sub_param)
        if coupon.id in seen:
            raise invalid_request(
                "The same coupon cannot be applied more than once.", param=sub_param
            )
        seen.add(coupon.id)
        out.append(found)
    return out


def _products_of_items(items) -> list[str]:
    products = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        price_id = item.get("price") or item.get("plan")
        plan = R.store.get("plan:" + str(price_id)) if price_id else None
        if plan is not None:
            products.append(plan.product)
    return products


def _subtotal_of_items(items) -> int | None:
    total = 0
    for item in items or []:
        price_id = item.get("price") or item.get("plan") if isinstance(item, dict) else None
        plan = R.store.get("plan:" + str(price_id)) if price_id else None
        if plan is None or plan.amount is None:
            return None
        quantity = R.try_convert_to_int(item.get("quantity") or 1)
        total += plan.amount * (quantity if isinstance(quantity, int) else 1)
    return total


def _make_discounts(resolved, customer: str, subscription: str | None, store: bool = True):
    made = []
    for coupon, promo, existing in resolved:
        if existing is not None:
            made.append(existing)
            continue
        discount = Discount(
            coupon=coupon, promotion_code=promo, customer=customer, subscription=subscription
        )
        if store:
            coupon.times_redeemed += 1
            if promo is not None:
                promo.times_redeemed += 1
            emit("customer.discount.created", discount)
        else:  # a preview's discount: never stored, never redeemed
            del R.store["discount:" + discount.id]
        made.append(discount)
    return made


# -- subscriptions -----------------------------------------------------------------------------


def sub_discounts(sub) -> list:
    return list(getattr(sub, "_fs_discount_objs", None) or [])


def ensure_discounts(sub) -> None:
    """Create the Discount objects of a subscription being created (it has an id now)."""
    pending = getattr(sub, "_fs_pending_discounts", None)
    if pending:
        sub._fs_pending_discounts = None
        sub._fs_discount_objs = _make_discounts(pending, sub.customer, sub.id)


def _wrap_sub_init(prev):
    def sub_init(self, *args, discounts=None, **kwargs):
        resolved = []
        if discounts not in (None, ""):
            items = kwargs.get("items")
            customer = kwargs.get("customer")
            resolved = resolve(
                discounts,
                customer=customer if isinstance(customer, str) else None,
                products=_products_of_items(items if isinstance(items, list) else []),
                subtotal=_subtotal_of_items(items if isinstance(items, list) else []),
            )
        self._fs_pending_discounts = resolved
        self._fs_discount_objs = []
        prev(self, *args, **kwargs)
        ensure_discounts(self)

    return sub_init


def _wrap_create_invoice(prev):
    def create_invoice(self, *args, **kwargs):
        ensure_discounts(self)
        kept = [d for d in sub_discounts(self) if d._fs_applies_now()]
        if len(kept) != len(sub_discounts(self)):
            # a used `once` or an ended `repeating` discount leaves the subscription now
            self._fs_discount_objs = kept
        R.Invoice._fs_discount_objs = tuple(kept)
        try:
            invoice = prev(self, *args, **kwargs)
        finally:
            R.Invoice._fs_discount_objs = ()
        # A `once` discount is used up by the first invoice it takes something off (not by a
        # zero-cost one, e.g. a trial's, nor by one of prorations only).
        for discount, per_line in discount_amounts(invoice):
            if sum(per_line.values()) > 0:
                discount._fs_used = True
        return invoice

    return create_invoice


def _wrap_sub_update(prev):
    def api_update(cls, id, **data):
        if "discounts" not in data:
            return prev(id, **data)
        discounts = data.pop("discounts")
        sub = cls._api_retrieve(id)
        if discounts == "":
            resolved = []
        else:
            resolved = resolve(
                discounts,
                customer=sub.customer,
                products=[item.plan.product for item in sub.items._list],
                existing=sub_discounts(sub),
            )
        from .subscriptions import ENDED, changes

        if sub.status in ENDED:
            raise invalid_request(
                "A canceled subscription can only update its cancellation_details and metadata."
            )
        with changes(sub):
            sub._fs_discount_objs = _make_discounts(resolved, sub.customer, sub.id)
            if data:
                prev(id, **data)
        return sub

    return api_update


def _wrap_sub_shape(prev):
    def shape(self, obj):
        obj = prev(self, obj)
        obj["discounts"] = [d.id for d in sub_discounts(self)]
        obj.pop("_fs_pending_discounts", None)
        return obj

    return shape


# -- invoices ----------------------------------------------------------------------------------


def invoice_discount_objs(invoice) -> list:
    return list(getattr(invoice, "_fs_discount_objs", None) or ())


def _discountable(line) -> bool:
    return not getattr(line, "proration", False) and line.amount > 0


def _line_applies(coupon, line) -> bool:
    applies_to = getattr(coupon, "applies_to", None)
    if not applies_to:
        return True
    plan = getattr(line, "plan", None)
    return plan is not None and plan.product in applies_to["products"]


def _percent(amount: int, percent: float) -> int:
    value = Decimal(amount) * Decimal(str(percent)) / Decimal(100)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def discount_amounts(invoice) -> list[tuple[Any, dict[str, int]]]:
    """``[(discount, {line id: amount})]`` for the invoice, in the order they apply."""
    lines = invoice.lines._list
    remaining = {line.id: line.amount for line in lines if _discountable(line)}
    if sum(remaining.values()) <= 0:
        return []  # Stripe ignores coupons on zero-cost invoices
    out = []
    for discount in invoice_discount_objs(invoice):
        coupon = discount._fs_coupon
        eligible = [line for line in lines if line.id in remaining and _line_applies(coupon, line)]
        per_line: dict[str, int] = {}
        if coupon.percent_off is not None:
            for line in eligible:
                per_line[line.id] = min(
                    remaining[line.id], _percent(line.amount, coupon.percent_off)
                )
        else:
            base = sum(remaining[line.id] for line in eligible)
            same_currency = coupon.currency == getattr(invoice, "currency", None)
            off = min(coupon.amount_off, base) if same_currency else 0
            left = off
            for n, line in enumerate(eligible):
                share = left if n == len(eligible) - 1 else off * remaining[line.id] // base
                per_line[line.id] = share
                left -= share
        for line_id, amount in per_line.items():
            remaining[line_id] -= amount
        out.append((discount, per_line))
    return out


def total_discount(invoice) -> int:
    return sum(sum(per_line.values()) for _, per_line in discount_amounts(invoice))


def invoice_init(self, *args, **kwargs):
    _prev["invoice_init"](self, *args, **kwargs)
    # Pin what the creator set on the class for this construction (so the invoice.created
    # event, sent from inside the constructor, already shows the discounts).
    self._fs_discount_objs = list(type(self)._fs_discount_objs)
    for line in self.lines._list:
        line._fs_invoice_obj = self


def invoice_total(self) -> int:
    return max(0, _prev["invoice_total"](self) - total_discount(self))


def _wrap_invoice_shape(prev):
    def shape(self, obj):
        obj = prev(self, obj)
        amounts = discount_amounts(self)
        obj["discounts"] = [d.id for d, _ in amounts]
        obj["total_discount_amounts"] = [
            {"amount": sum(per_line.values()), "discount": d.id} for d, per_line in amounts
        ]
        discount = sum(item["amount"] for item in obj["total_discount_amounts"])
        obj["total_excluding_tax"] = self.subtotal - discount
        return obj

    return shape


def _line_invoice(line):
    invoice = getattr(line, "_fs_invoice_obj", None)
    if invoice is None and getattr(line, "invoice", None):
        invoice = R.store.get("invoice:" + str(line.invoice))
    return invoice


def _wrap_line_shape(prev):
    def shape(self, obj):
        obj = prev(self, obj)
        invoice = _line_invoice(self)
        amounts = discount_amounts(invoice) if invoice is not None else []
        obj["discount_amounts"] = [
            {"amount": per_line.get(self.id, 0), "discount": d.id} for d, per_line in amounts
        ]
        obj["discountable"] = not getattr(self, "proration", False)
        obj.pop("_fs_invoice_obj", None)
        return obj

    return shape


# -- previews ----------------------------------------------------------------------------------


def preview_discounts(discounts, *, customer: str | None, items: list, subscription=None) -> list:
    """The discounts ``POST /v1/invoices/create_preview`` would apply: ``discounts[]`` checked as
    on subscription create (nothing redeemed or stored), else the subscription's own."""
    if discounts in (None, ""):
        if subscription is not None:
            return [d for d in sub_discounts(subscription) if d._fs_applies_now()]
        return []
    resolved = resolve(
        discounts,
        customer=customer,
        products=_products_of_items(items),
        subtotal=_subtotal_of_items(items),
        existing=sub_discounts(subscription) if subscription is not None else None,
    )
    return _make_discounts(resolved, customer or "", None, store=False)


def attach_preview_discounts(invoice, discount_objs: list) -> None:
    """Apply ``discount_objs`` (from :func:`preview_discounts`) to an already built invoice."""
    invoice._fs_discount_objs = list(discount_objs)
    for line in invoice.lines._list:
        line._fs_invoice_obj = invoice


def apply() -> None:
    R.Coupon.__init__ = coupon_init
    R.Coupon.valid = property(coupon_valid)
    R.Coupon._api_update = classmethod(coupon_update)
    R.Coupon._api_delete = classmethod(coupon_delete)
    R.Coupon._fs_shape = _coupon_shape
    R.Coupon._fs_includable = COUPON_INCLUDABLE
    PromotionCode._fs_includable = {"promotion": _promotion_includable}
    Discount._fs_includable = {"source": _discount_source_includable}
    Sub = R.Subscription
    Sub.__init__ = _wrap_sub_init(Sub.__init__)
    Sub._create_invoice = _wrap_create_invoice(Sub._create_invoice)
    Sub._api_update = classmethod(_wrap_sub_update(Sub._api_update))
    Sub._fs_shape = _wrap_sub_shape(Sub._fs_shape)
    R.Invoice._fs_discount_objs = ()
    _prev["invoice_init"] = R.Invoice.__init__
    _prev["invoice_total"] = R.Invoice.total.fget
    R.Invoice.__init__ = invoice_init
    R.Invoice.total = property(invoice_total)
    R.Invoice._fs_shape = _wrap_invoice_shape(R.Invoice._fs_shape)
    R.InvoiceLineItem._fs_shape = _wrap_line_shape(R.InvoiceLineItem._fs_shape)
