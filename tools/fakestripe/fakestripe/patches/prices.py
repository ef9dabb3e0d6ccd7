"""Prices (``/v1/prices``) and current-shape Products.

Reproduces:

* ``POST /v1/prices`` with ``product`` (or ``product_data[name]``), ``unit_amount``,
  ``currency``, ``recurring[interval|interval_count]``, ``lookup_key`` (+
  ``transfer_lookup_key``), ``nickname``, ``metadata``, ``active``; ``GET /v1/prices/{id}``;
  ``POST /v1/prices/{id}`` (``active``, ``metadata``, ``nickname``, ``lookup_key``);
  ``GET /v1/prices`` with ``lookup_keys[]``, ``active``, ``product``, ``type``, ``currency`` and
  ``expand[]=data.product`` [localstripe had Plans only]. A lookup key already used by another
  price is refused unless ``transfer_lookup_key=true``, like Stripe.
* A recurring price is backed by a localstripe Plan **with the same id**, so subscriptions,
  invoices and ``item.plan`` keep working; ``item.price`` is this Price.
* ``price.created`` / ``price.updated`` events.
* Products accept the current create parameters (``images``, ``tax_code``, ``unit_label``,
  ``marketing_features``, ``default_price_data``...) and answer with ``default_price``,
  ``updated``, ``images``... (no search endpoint).
"""

from __future__ import annotations

import time

from localstripe import resources as R

from ..errors import invalid_request
from .events import emit
from .export import unknown_parameter

INTERVALS = ("day", "week", "month", "year")


class Price(R.StripeObject):
    object = "price"
    _id_prefix = "price_"

    def __init__(
        self,
        product=None,
        currency=None,
        unit_amount=None,
        unit_amount_decimal=None,
        recurring=None,
        lookup_key=None,
        transfer_lookup_key=None,
        metadata=None,
        nickname=None,
        active=True,
        product_data=None,
        tax_behavior=None,
        billing_scheme=None,
        id=None,
        **kwargs,
    ):
        unknown_parameter(kwargs)
        if unit_amount is None and unit_amount_decimal is not None:
            unit_amount = R.try_convert_to_float(unit_amount_decimal)
            unit_amount = int(unit_amount) if isinstance(unit_amount, float) else unit_amount
        unit_amount = R.try_convert_to_int(unit_amount)
        active = R.try_convert_to_bool(active)
        transfer_lookup_key = R.try_convert_to_bool(transfer_lookup_key)
        if not isinstance(currency, str) or not currency:
            raise invalid_request("Missing required param: currency.", param="currency")
        if not isinstance(unit_amount, int) or unit_amount < 0:
            raise invalid_request("Missing required param: unit_amount.", param="unit_amount")
        if billing_scheme not in (None, "per_unit"):
            raise invalid_request(
                "Only billing_scheme=per_unit is supported offline.", param="billing_scheme"
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise invalid_request("Invalid metadata", param="metadata")
        interval = interval_count = None
        if recurring is not None:
            if not isinstance(recurring, dict) or recurring.get("interval") not in INTERVALS:
                raise invalid_request(
                    "Invalid recurring[interval]: must be one of day, week, month, or year",
                    param="recurring[interval]",
                )
            interval = recurring["interval"]
            interval_count = R.try_convert_to_int(recurring.get("interval_count", 1))
            if not isinstance(interval_count, int) or interval_count < 1:
                raise invalid_request("Invalid integer", param="recurring[interval_count]")
        if product is None and isinstance(product_data, dict):
            product = R.Product(
                name=product_data.get("name"), metadata=product_data.get("metadata")
            ).id
        if not isinstance(product, str):
            raise invalid_request("Missing required param: product.", param="product")
        R.Product._api_retrieve(product)
        if lookup_key is not None:
            holder = find_by_lookup_key(lookup_key)
            if holder is not None and not transfer_lookup_key:
                raise invalid_request(
                    f"A price (`{holder.id}`) already uses that lookup key.", param="lookup_key"
                )
            if holder is not None:
                holder.lookup_key = None

        super().__init__(id)

        self.active = active
        self.billing_scheme = "per_unit"
        self.currency = currency.lower()
        self.custom_unit_amount = None
        self.lookup_key = lookup_key
        self.metadata = metadata or {}
        self.nickname = nickname
        self.product = product
        self.recurring = None
        if interval is not None:
            self.recurring = {
                "interval": interval,
                "interval_count": interval_count,
                "meter": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            }
            R.Plan(
                id=self.id,
                amount=unit_amount,
                currency=self.currency,
                interval=interval,
                interval_count=interval_count,
                product=product,
                nickname=nickname,
                metadata=dict(self.metadata),
                active=active,
            )
        self.tax_behavior = tax_behavior or "unspecified"
        self.tiers_mode = None
        self.transform_quantity = None
        self.type = "recurring" if interval else "one_time"
        self.unit_amount = unit_amount
        self.unit_amount_decimal = str(unit_amount)
        emit("price.created", self)

    @classmethod
    def _api_update(
        cls,
        id,
        active=None,
        metadata=None,
        nickname=None,
        lookup_key=None,
        transfer_lookup_key=None,
        tax_behavior=None,
        **kwargs,
    ):
        unknown_parameter(kwargs)
        obj = cls._api_retrieve(id)
        before = obj._export()
        if lookup_key is not None:
            holder = find_by_lookup_key(lookup_key)
            if holder is not None and holder is not obj:
                if not R.try_convert_to_bool(transfer_lookup_key):
                    raise invalid_request(
                        f"A price (`{holder.id}`) already uses that lookup key.", param="lookup_key"
                    )
                holder.lookup_key = None
            obj.lookup_key = lookup_key or None
        if active is not None:
            obj.active = R.try_convert_to_bool(active)
        if nickname is not None:
            obj.nickname = nickname or None
        if tax_behavior is not None:
            obj.tax_behavior = tax_behavior
        if metadata:
            for key, value in metadata.items():
                if value == "":
                    obj.metadata.pop(key, None)
                else:
                    obj.metadata[key] = value
        plan = R.store.get("plan:" + obj.id)
        if plan is not None:
            plan.active = obj.active
            plan.nickname = obj.nickname
        after = obj._export()
        previous = {k: v for k, v in before.items() if after.get(k) != v}
        if previous:
            emit("price.updated", obj, previous_attributes=previous)
        return obj

    @classmethod
    def _api_delete(cls, id):
        raise invalid_request("Prices cannot be deleted; set `active=false` instead.", status=400)

    @classmethod
    def _api_list_all(
        cls,
        url,
        active=None,
        currency=None,
        product=None,
        type=None,
        lookup_keys=None,
        recurring=None,
        limit=None,
        starting_after=None,
        created=None,
        **kwargs,
    ):
        unknown_parameter(kwargs)
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        active = R.try_convert_to_bool(active)
        if isinstance(lookup_keys, str):
            lookup_keys = [lookup_keys]
        if lookup_keys is not None and len(lookup_keys) > 10:
            raise invalid_request("You may only specify up to 10 lookup keys.", param="lookup_keys")
        if active is not None:
            li._list = [p for p in li._list if p.active == active]
        if currency is not None:
            li._list = [p for p in li._list if p.currency == currency.lower()]
        if product is not None:
            li._list = [p for p in li._list if p.product == product]
        if type is not None:
            li._list = [p for p in li._list if p.type == type]
        if lookup_keys is not None:
            li._list = [p for p in li._list if p.lookup_key in lookup_keys]
        if isinstance(recurring, dict) and recurring.get("interval"):
            li._list = [
                p
                for p in li._list
                if p.recurring and p.recurring["interval"] == recurring["interval"]
            ]
        return li


def find_by_lookup_key(lookup_key):
    for key, value in R.store.items():
        if key.startswith("price:") and value.lookup_key == lookup_key:
            return value
    return None


def price_for_plan(plan) -> dict:
    """The Price export of a plan: the Price with the same id, else one synthesised from it."""
    price = R.store.get("price:" + plan.id)
    if price is not None:
        return price._export()
    return {
        "id": plan.id,
        "object": "price",
        "active": plan.active,
        "billing_scheme": plan.billing_scheme,
        "created": plan.created,
        "currency": plan.currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": dict(plan.metadata or {}),
        "nickname": plan.nickname,
        "product": plan.product,
        "recurring": {
            "interval": plan.interval,
            "interval_count": plan.interval_count,
            "meter": None,
            "trial_period_days": plan.trial_period_days,
            "usage_type": plan.usage_type,
        },
        "tax_behavior": "unspecified",
        "tiers_mode": plan.tiers_mode,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": plan.amount,
        "unit_amount_decimal": str(plan.amount),
    }


def _plan_shape(self, obj):
    obj.pop("name", None)
    obj.pop("statement_descriptor", None)
    obj["amount_decimal"] = str(self.amount)
    obj.setdefault("meter", None)
    obj.setdefault("transform_usage", None)
    return obj


_orig_product_init = R.Product.__init__
PRODUCT_EXTRAS = (
    "images",
    "marketing_features",
    "tax_code",
    "unit_label",
    "package_dimensions",
    "default_price_data",
)


def product_init(self, **data):
    extras = {k: data.pop(k) for k in PRODUCT_EXTRAS if k in data}
    known = {
        "id",
        "name",
        "type",
        "active",
        "caption",
        "description",
        "attributes",
        "shippable",
        "url",
        "statement_descriptor",
        "metadata",
    }
    unknown_parameter({k: v for k, v in data.items() if k not in known})
    if not isinstance(data.get("name"), str) or not data.get("name"):
        raise invalid_request("Missing required param: name.", param="name")
    if "shippable" in data:
        data["shippable"] = R.try_convert_to_bool(data["shippable"])
    _orig_product_init(self, **data)
    self.images = extras.get("images") or []
    self.marketing_features = extras.get("marketing_features") or []
    self.tax_code = extras.get("tax_code")
    self.unit_label = extras.get("unit_label")
    self.package_dimensions = extras.get("package_dimensions")
    self.default_price = None
    self.updated = self.created
    price_data = extras.get("default_price_data")
    if isinstance(price_data, dict):
        self.default_price = Price(product=self.id, **price_data).id


def product_update(cls, id, **data):
    obj = cls._api_retrieve(id)
    before = obj._export()
    if "active" in data:
        data["active"] = R.try_convert_to_bool(data["active"])
    if "default_price" in data:
        if data["default_price"]:
            Price._api_retrieve(data["default_price"])
        else:
            data["default_price"] = None
    R.StripeObject._update(obj, **data)
    obj.updated = int(time.time())
    after = obj._export()
    previous = {k: v for k, v in before.items() if after.get(k) != v and k != "updated"}
    emit("product.updated", obj, previous_attributes=previous)
    return obj


def _product_shape(self, obj):
    for key in ("images", "marketing_features"):
        obj.setdefault(key, [])
    for key in ("tax_code", "unit_label", "package_dimensions", "default_price"):
        obj.setdefault(key, None)
    obj.setdefault("updated", self.created)
    obj.pop("caption", None)
    obj.pop("attributes", None)
    return obj


def apply() -> None:
    R.Plan._fs_shape = _plan_shape
    R.Product.__init__ = product_init
    R.Product._api_update = classmethod(product_update)
    R.Product._fs_shape = _product_shape
