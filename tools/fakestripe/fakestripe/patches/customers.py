"""Customers in the current shape, with ``customer.updated`` previous attributes.

Reproduces:

* ``invoice_settings[default_payment_method]`` must be a payment method attached to that
  customer (Stripe's "The customer does not have a payment method with the ID ..."); Stripe's
  test ids (``pm_card_visa``...) are attached on the fly. ``invoice_settings`` is merged, not
  replaced; ``""`` clears a value.
* ``customer.updated`` carries ``data.previous_attributes`` and is only sent when something
  changed; deleting a customer cancels its subscriptions (``customer.subscription.deleted``)
  before ``customer.deleted``.
* Current shape: ``balance`` (not ``account_balance``), ``invoice_settings`` with all its keys,
  ``tax_exempt``, ``invoice_prefix``, ``next_invoice_sequence``, ``currency`` (null until the
  first subscription); ``subscriptions`` / ``sources`` / ``tax_ids`` only when expanded.
* Unknown-but-harmless create/update parameters (``shipping``, ``tax_exempt``, ``test_clock``...)
  are accepted.
"""

from __future__ import annotations

from localstripe import resources as R

from ..errors import invalid_request
from . import cards
from .events import emit

_orig_init = R.Customer.__init__
_orig_delete = R.Customer._api_delete
EXTRAS = (
    "shipping",
    "tax_exempt",
    "invoice_prefix",
    "test_clock",
    "tax",
    "next_invoice_sequence",
    "cash_balance",
)


def customer_init(self, **data):
    extras = {k: data.pop(k) for k in EXTRAS if k in data}
    if "balance" in data:
        data["balance"] = R.try_convert_to_int(data["balance"])
    try:
        _orig_init(self, **data)
    except TypeError as e:
        raise invalid_request(f"Received unknown parameter: {e}") from None
    self.shipping = extras.get("shipping")
    self.tax_exempt = extras.get("tax_exempt") or "none"
    self.invoice_prefix = extras.get("invoice_prefix") or self.id[4:12].upper()
    self.next_invoice_sequence = 1


def api_update(cls, id, **data):
    obj = cls._api_retrieve(id)
    before = obj._export()
    settings = data.pop("invoice_settings", None)
    if settings is not None:
        if not isinstance(settings, dict):
            raise invalid_request("Invalid object", param="invoice_settings")
        merged = dict(obj.invoice_settings)
        for key, value in settings.items():
            if key == "default_payment_method":
                merged[key] = (
                    cards.customer_payment_method(
                        id, value, "invoice_settings[default_payment_method]"
                    ).id
                    if value
                    else None
                )
            else:
                merged[key] = value or None
        obj.invoice_settings = merged
    if "balance" in data:
        obj.account_balance = -R.try_convert_to_int(data.pop("balance"))
    for key in EXTRAS:
        if key in data:
            setattr(obj, key, data.pop(key) or None)
    source = data.pop("source", None)
    if source:
        card = cls._api_add_source(id, source)
        obj.default_source = card.id
    metadata = data.pop("metadata", None)
    if isinstance(metadata, dict):
        for key, value in metadata.items():
            if value == "":
                obj.metadata.pop(key, None)
            else:
                obj.metadata[key] = value
    elif metadata == "":
        obj.metadata = {}
    for key in list(data):
        if not hasattr(obj, key) or key.startswith("_") or key in ("id", "object", "created"):
            raise invalid_request(f"Received unknown parameter: {key}", param=key)
        value = data.pop(key)
        setattr(obj, key, None if value == "" else value)
    after = obj._export()
    previous = {k: v for k, v in before.items() if after.get(k) != v}
    if previous:
        emit("customer.updated", obj, previous_attributes=previous)
    return obj


def api_delete(cls, id):
    cls._api_retrieve(id)
    for key, sub in list(R.store.items()):
        if (
            key.startswith("subscription:")
            and sub.customer == id
            and sub.status not in ("canceled", "incomplete_expired")
        ):
            R.Subscription._api_delete(sub.id)
    return _orig_delete.__func__(cls, id)


def _subscriptions(self, rest=None):
    li = R.Subscription._api_list_all(
        "/v1/customers/" + self.id + "/subscriptions", customer=self.id
    )
    return li._export(expand=["data." + r for r in rest or []])


def _sources(self, rest=None):
    return self.sources._export()


def _tax_ids(self, rest=None):
    return self.tax_ids._export()


def _customer_shape(self, obj):
    obj["balance"] = -self.account_balance if self.account_balance else 0
    for key in ("account_balance", "business_vat_id"):
        obj.pop(key, None)
    settings = dict(self.invoice_settings or {})
    obj["invoice_settings"] = {
        "custom_fields": settings.get("custom_fields"),
        "default_payment_method": settings.get("default_payment_method"),
        "footer": settings.get("footer"),
        "rendering_options": settings.get("rendering_options"),
    }
    currency = None
    for key, value in R.store.items():
        if key.startswith("subscription:") and value.customer == self.id and value.items._list:
            currency = value.items._list[0].plan.currency
            break
    obj["currency"] = currency
    obj.setdefault("tax_exempt", "none")
    obj.setdefault("invoice_prefix", self.id[4:12].upper())
    obj.setdefault("next_invoice_sequence", 1)
    obj.setdefault("test_clock", None)
    obj.setdefault("shipping", None)
    return obj


def account() -> dict:
    """``GET /v1/account``: the (test mode) account the secret key belongs to."""
    return {
        "id": "acct_offline0000000000",
        "object": "account",
        "business_profile": {
            "mcc": None,
            "name": "Open SEC Data (offline)",
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "US",
        "created": 1700000000,
        "default_currency": "usd",
        "details_submitted": True,
        "email": "billing@offline.invalid",
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": "/v1/accounts/acct_offline0000000000/external_accounts",
        },
        "future_requirements": {
            "currently_due": [],
            "eventually_due": [],
            "past_due": [],
            "disabled_reason": None,
            "errors": [],
        },
        "metadata": {},
        "payouts_enabled": True,
        "requirements": {
            "currently_due": [],
            "eventually_due": [],
            "past_due": [],
            "disabled_reason": None,
            "errors": [],
        },
        "settings": {
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_payments": {"statement_descriptor_prefix": "OPENSEC"},
            "dashboard": {"display_name": "Open SEC Data (offline)", "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": "OPEN SEC DATA"},
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": "standard",
    }


class WebhookEndpoint(R.StripeObject):
    """``/v1/webhook_endpoints``: deliveries go to ``url`` signed with ``secret`` (shown once)."""

    object = "webhook_endpoint"
    _id_prefix = "we_"

    def __init__(
        self,
        url=None,
        enabled_events=None,
        description=None,
        metadata=None,
        api_version=None,
        connect=None,
        **kwargs,
    ):
        if kwargs:
            raise invalid_request(f"Received unknown parameter: {next(iter(kwargs))}")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid_request("Invalid URL: must be an http(s) URL", param="url")
        if isinstance(enabled_events, str):
            enabled_events = [enabled_events]
        if not isinstance(enabled_events, list) or not enabled_events:
            raise invalid_request("Missing required param: enabled_events.", param="enabled_events")
        super().__init__()
        self.url = url
        self.enabled_events = enabled_events
        self.description = description
        self.metadata = metadata or {}
        self.api_version = api_version
        self.application = None
        self.status = "enabled"
        self._secret = "whsec_" + R.random_id(32)

    @classmethod
    def _api_update(
        cls,
        id,
        url=None,
        enabled_events=None,
        description=None,
        metadata=None,
        disabled=None,
        **kwargs,
    ):
        if kwargs:
            raise invalid_request(f"Received unknown parameter: {next(iter(kwargs))}")
        obj = cls._api_retrieve(id)
        if url is not None:
            obj.url = url
        if enabled_events is not None:
            obj.enabled_events = (
                [enabled_events] if isinstance(enabled_events, str) else enabled_events
            )
        if description is not None:
            obj.description = description or None
        if isinstance(metadata, dict):
            obj.metadata.update(metadata)
        if disabled is not None:
            obj.status = "disabled" if R.try_convert_to_bool(disabled) else "enabled"
        return obj

    def _created_export(self) -> dict:
        obj = self._export()
        obj["secret"] = self._secret
        return obj


def apply() -> None:
    cus = R.Customer
    cus.__init__ = customer_init
    cus._api_update = classmethod(api_update)
    cus._api_delete = classmethod(api_delete)
    cus._fs_shape = _customer_shape
    cus._fs_skip = ("subscriptions", "sources", "tax_ids")
    cus._fs_includable = {"subscriptions": _subscriptions, "sources": _sources, "tax_ids": _tax_ids}
