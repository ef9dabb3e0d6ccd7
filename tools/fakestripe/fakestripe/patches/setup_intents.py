"""SetupIntents: saving a card for later, in the current API shape.

What the Payment Element's ``stripe.confirmSetup`` and a change-card flow need (localstripe's
gaps in brackets):

* ``POST /v1/setup_intents`` for a ``customer`` with ``usage`` (``off_session`` by default, or
  ``on_session``), and either ``payment_method_types`` or ``automatic_payment_methods[enabled]``
  — neither turns automatic payment methods on, as the API does since 2023-08-16; both is a 400
  "You may only specify one of these parameters". Also ``payment_method`` /
  ``payment_method_data``, ``confirm`` (+ ``return_url``), ``description``, ``metadata``,
  ``payment_method_options``, ``mandate_data``, ``use_stripe_sdk``. ``setup_intent.created``.
  [localstripe: 400 for most parameters, an unknown customer accepted, no event.]
* ``POST /v1/setup_intents/{id}/confirm`` with ``payment_method`` (an id, or a test id such as
  ``pm_card_visa``) or ``payment_method_data`` (what Stripe.js sends from the Payment Element):

  - a good card: ``succeeded``, the card **attached to the customer** (``payment_method.attached``),
    ``setup_intent.succeeded``;
  - a card Stripe declines when it is saved (``4000000000000002``...): HTTP 402 ``card_error`` whose
    body carries ``setup_intent``; the SetupIntent goes back to ``requires_payment_method`` with
    ``last_setup_error`` and ``setup_intent.setup_failed`` [localstripe: ``canceled``]; a card that
    only fails when charged (``4000000000000341``) is saved fine, as on Stripe;
  - a card that asks for 3-D Secure when saved (``4000002500003155``, ``4000002760003184``,
    ``4000000000003220``...): ``requires_action`` with ``next_action.use_stripe_sdk``
    (``setup_intent.requires_action``) until ``POST .../_authenticate?success=true|false`` (the
    Stripe.js stand-in's box); a failed authentication → ``requires_payment_method`` with
    ``last_setup_error.code = setup_intent_authentication_failure``;
  - retrying with another card on the same SetupIntent works; confirming a ``succeeded`` or
    ``canceled`` one is 400 ``setup_intent_unexpected_state``; a card of another customer is 400.
* ``POST .../cancel`` (``cancellation_reason``) from an unfinished state, ``setup_intent.canceled``;
  ``POST /v1/setup_intents/{id}`` updates ``metadata`` / ``description`` / ``payment_method``;
  ``GET /v1/setup_intents`` filters by ``customer`` and ``payment_method``.
* With a publishable key (Stripe.js) only retrieve, confirm and ``_authenticate`` are allowed, and
  only with the SetupIntent's ``client_secret`` (``app.py``'s key rule) [localstripe: confirm and
  cancel with any publishable key and no secret].
* Current shape: ``automatic_payment_methods``, ``cancellation_reason``, ``flow_directions``,
  ``last_setup_error``, ``latest_attempt``, ``mandate``, ``payment_method_options.card``,
  ``single_use_mandate``, ``excluded_payment_method_types``...

Not reproduced: SetupAttempt objects (``latest_attempt`` stays null), ``redirect_to_url`` next
actions (3-D Secure is always ``use_stripe_sdk``), mandates, non-card methods.
"""

from __future__ import annotations

import copy

from localstripe import resources as R

from ..errors import DOC_URL, StripeError, card_error, invalid_request
from . import cards
from .events import emit
from .export import unknown_parameter
from .intents import CONFIRMABLE, confirmable_check

USAGES = ("off_session", "on_session")
CANCELLATION_REASONS = ("abandoned", "requested_by_customer", "duplicate")
#: what Stripe accepts in payment_method_types and the stand-in knows; only cards can be confirmed
METHOD_TYPES = ("card", "link", "sepa_debit", "ideal", "us_bank_account")
AUTH_FAILED_MESSAGE = (
    "The latest attempt to set up the payment method has failed because authentication failed."
)
AUTHENTICATE_ROUTE = "/v1/setup_intents/{id}/_authenticate"

SI_DEFAULTS = {
    "application": None,
    "automatic_payment_methods": None,
    "cancellation_reason": None,
    "customer_account": None,
    "description": None,
    "excluded_payment_method_types": None,
    "flow_directions": None,
    "latest_attempt": None,
    "mandate": None,
    "on_behalf_of": None,
    "payment_method_configuration_details": None,
    "payment_method_options": {
        "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
    },
    "single_use_mandate": None,
}


def _boolean(value, param: str) -> bool | None:
    if value is None:
        return None
    converted = R.try_convert_to_bool(value)
    if not isinstance(converted, bool):
        raise invalid_request("Invalid boolean: " + str(value), param=param)
    return converted


def _method_types(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise invalid_request("Invalid array", param="payment_method_types")
    for kind in value:
        if kind not in METHOD_TYPES:
            raise invalid_request(
                f"The payment method type provided: {kind} is invalid. Please ensure the "
                "provided type is activated in your dashboard "
                "(https://dashboard.stripe.com/account/payments/settings) and your account is "
                "enabled for any preview features that you are trying to use.",
                param="payment_method_types",
            )
    return value


def _automatic(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "enabled" not in value:
        raise invalid_request(
            "Missing required param: automatic_payment_methods[enabled].",
            param="automatic_payment_methods[enabled]",
        )
    enabled = _boolean(value["enabled"], "automatic_payment_methods[enabled]")
    allow = value.get("allow_redirects") or "always"
    if allow not in ("always", "never"):
        raise invalid_request(
            "Invalid automatic_payment_methods[allow_redirects]: must be one of always or never",
            param="automatic_payment_methods[allow_redirects]",
        )
    return {"allow_redirects": allow, "enabled": enabled} if enabled else None


def _resolve_pm(intent, payment_method=None, payment_method_data=None):
    """The PaymentMethod to set up: an id (test ids included) or new card data."""
    if payment_method is not None and payment_method_data is not None:
        raise invalid_request(
            "You may only specify one of these parameters: payment_method, payment_method_data."
        )
    if payment_method_data is not None:
        if not isinstance(payment_method_data, dict):
            raise invalid_request("Invalid object", param="payment_method_data")
        try:
            pm = R.PaymentMethod(**payment_method_data)
        except StripeError as error:
            if error.code == 402:  # a card number Stripe refuses: the intent records it
                intent._fs_last_error = dict(error.body["error"])
                intent.status = "requires_payment_method"
                error.body["error"]["setup_intent"] = intent._export()
            raise
    elif payment_method is not None:
        if not isinstance(payment_method, str) or not payment_method:
            raise invalid_request("Invalid string", param="payment_method")
        pm = R.PaymentMethod._api_retrieve(payment_method)
    else:
        return None
    if intent.customer and getattr(pm, "customer", None) not in (None, intent.customer):
        raise invalid_request(
            "The provided PaymentMethod belongs to another customer.", param="payment_method"
        )
    if pm.type not in intent.payment_method_types:
        raise invalid_request(
            f"The provided PaymentMethod type ({pm.type}) is not allowed for this SetupIntent. "
            "Please attach a PaymentMethod of one of the following types: "
            + ", ".join(intent.payment_method_types)
            + ".",
            param="payment_method",
        )
    return pm


def _succeed(intent, pm) -> None:
    if intent.customer:
        cards.attach_to_customer(pm, intent.customer)
    intent.payment_method = pm.id
    intent.status = "succeeded"
    intent.next_action = None
    intent._fs_last_error = None
    emit("setup_intent.succeeded", intent)
    from . import trials  # a subscription's pending SetupIntent: its card pays the subscription

    trials.on_setup_succeeded(intent, pm)


def _fail(intent, pm, error: dict) -> None:
    """Back to ``requires_payment_method``: Stripe unsets the card and keeps it in the error."""
    intent.status = "requires_payment_method"
    intent.next_action = None
    intent.payment_method = None
    intent._fs_last_error = {**error, "payment_method": pm._export()}
    emit("setup_intent.setup_failed", intent)


def confirm_si(intent):
    """Try to save ``intent.payment_method`` (already set) for the customer."""
    pm = R.PaymentMethod._api_retrieve(intent.payment_method)
    intent._fs_last_error = None
    intent.next_action = None
    if pm._attaching_is_declined():
        code, decline_code, message = cards.decline_for(pm)
        _fail(
            intent,
            pm,
            {
                "code": code,
                "decline_code": decline_code,
                "doc_url": DOC_URL + code.replace("_", "-"),
                "message": message,
                "type": "card_error",
            },
        )
        raise card_error(
            message,
            code=code,
            decline_code=decline_code,
            setup_intent=intent._export(),
            payment_method=pm._export(),
        )
    if cards.requires_authentication(pm):
        intent.status = "requires_action"
        intent.next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": "", "source": pm.id},
        }
        emit("setup_intent.requires_action", intent)
        return intent
    _succeed(intent, pm)
    return intent


def api_create(
    cls,
    customer=None,
    usage=None,
    payment_method_types=None,
    automatic_payment_methods=None,
    payment_method=None,
    payment_method_data=None,
    confirm=None,
    return_url=None,
    description=None,
    metadata=None,
    payment_method_options=None,
    mandate_data=None,
    use_stripe_sdk=None,
    **kwargs,
):
    unknown_parameter(kwargs)
    if customer is not None:
        if not isinstance(customer, str) or not customer:
            raise invalid_request("Invalid string", param="customer")
        R.Customer._api_retrieve(customer)  # 404 "No such customer"
    usage = usage or "off_session"
    if usage not in USAGES:
        raise invalid_request(
            "Invalid usage: must be one of off_session or on_session", param="usage"
        )
    if payment_method_types is not None and automatic_payment_methods is not None:
        raise invalid_request(
            "You may only specify one of these parameters: automatic_payment_methods, "
            "payment_method_types."
        )
    types = _method_types(payment_method_types)
    automatic = _automatic(automatic_payment_methods)
    if types is None:
        # Since API version 2023-08-16 the methods of the dashboard are on by default.
        if automatic_payment_methods is None:
            automatic = {"allow_redirects": "always", "enabled": True}
        types = ["card"]
    confirm = _boolean(confirm, "confirm")
    if return_url is not None and not confirm:
        raise invalid_request(
            "The parameter return_url can only be passed when confirm is set to true.",
            param="return_url",
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise invalid_request("Invalid object", param="metadata")
    if description is not None and not isinstance(description, str):
        raise invalid_request("Invalid string", param="description")
    intent = cls(customer=customer, usage=usage, metadata=metadata)
    intent.payment_method_types = types
    intent.automatic_payment_methods = automatic
    intent.description = description or None
    intent.cancellation_reason = None
    intent._fs_last_error = None
    pm = _resolve_pm(intent, payment_method, payment_method_data)
    if pm is not None:
        intent.payment_method = pm.id
        intent.status = "requires_confirmation"
    emit("setup_intent.created", intent)
    if confirm:
        if pm is None:
            raise invalid_request(
                "You cannot confirm this SetupIntent because it's missing a payment method. To "
                "confirm the SetupIntent with a payment method, pass its ID in the "
                "`payment_method` parameter.",
                code="setup_intent_unexpected_state",
            )
        confirm_si(intent)
    return intent


def api_confirm(
    cls,
    id,
    payment_method=None,
    payment_method_data=None,
    client_secret=None,
    return_url=None,
    use_stripe_sdk=None,
    mandate_data=None,
    payment_method_options=None,
    **kwargs,
):
    unknown_parameter(kwargs)
    intent = cls._api_retrieve(id)
    confirmable_check(intent, "SetupIntent", client_secret)
    pm = _resolve_pm(intent, payment_method, payment_method_data)
    if pm is not None:
        intent.payment_method = pm.id
    elif not intent.payment_method:
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method. To "
            "confirm the SetupIntent with a payment method, pass its ID in the `payment_method` "
            "parameter.",
            code="setup_intent_unexpected_state",
        )
    return confirm_si(intent)


def api_authenticate(cls, id, client_secret=None, success=False, **kwargs):
    """The 3-D Secure outcome, as the Stripe.js stand-in's box reports it."""
    success = R.try_convert_to_bool(success)
    intent = cls._api_retrieve(id)
    if client_secret != intent.client_secret:
        raise invalid_request(
            "The client_secret provided does not match the client_secret associated with the "
            "SetupIntent.",
            param="client_secret",
            status=401,
        )
    if intent.status != "requires_action":
        raise invalid_request(
            f"This SetupIntent has a status of {intent.status}, not requires_action.",
            code="setup_intent_unexpected_state",
        )
    pm = R.PaymentMethod._api_retrieve(intent.payment_method)
    if success is True:
        _succeed(intent, pm)
    else:
        _fail(
            intent,
            pm,
            {
                "code": "setup_intent_authentication_failure",
                "doc_url": DOC_URL + "setup-intent-authentication-failure",
                "message": AUTH_FAILED_MESSAGE,
                "type": "invalid_request_error",
            },
        )
    return intent


def api_cancel(cls, id, cancellation_reason=None, **kwargs):
    unknown_parameter(kwargs)
    intent = cls._api_retrieve(id)
    if cancellation_reason is not None and cancellation_reason not in CANCELLATION_REASONS:
        raise invalid_request(
            "Invalid cancellation_reason: must be one of " + ", ".join(CANCELLATION_REASONS),
            param="cancellation_reason",
        )
    if intent.status not in CONFIRMABLE:
        raise invalid_request(
            "You cannot cancel this SetupIntent because it has a status of "
            f"{intent.status}. Only a SetupIntent with one of the following statuses may be "
            "canceled: requires_payment_method, requires_confirmation, requires_action.",
            code="setup_intent_unexpected_state",
        )
    intent.status = "canceled"
    intent.next_action = None
    intent.cancellation_reason = cancellation_reason
    emit("setup_intent.canceled", intent)
    return intent


def api_update(cls, id, metadata=None, description=None, payment_method=None, **kwargs):
    unknown_parameter(kwargs)
    intent = cls._api_retrieve(id)
    if metadata is not None:
        if metadata == "":
            intent.metadata = {}
        elif isinstance(metadata, dict):
            for key, value in metadata.items():
                if value == "":
                    intent.metadata.pop(key, None)
                else:
                    intent.metadata[key] = value
        else:
            raise invalid_request("Invalid object", param="metadata")
    if description is not None:
        intent.description = description or None
    if payment_method is not None:
        if intent.status not in ("requires_payment_method", "requires_confirmation"):
            raise invalid_request(
                "You cannot update this SetupIntent's payment method because it has a status of "
                f"{intent.status}.",
                code="setup_intent_unexpected_state",
            )
        pm = _resolve_pm(intent, payment_method=payment_method)
        intent.payment_method = pm.id if pm is not None else None
        intent.status = "requires_confirmation"
    return intent


def list_all(
    cls, url, customer=None, payment_method=None, limit=None, starting_after=None, **kwargs
):
    unknown_parameter(kwargs)
    li = R.StripeObject._api_list_all.__func__(cls, url, limit=limit, starting_after=starting_after)
    li._list = [
        intent
        for intent in li._list
        if (customer is None or intent.customer == customer)
        and (payment_method is None or intent.payment_method == payment_method)
    ]
    return li


def _si_shape(self, obj):
    obj["last_setup_error"] = getattr(self, "_fs_last_error", None)
    for key, value in SI_DEFAULTS.items():
        if obj.get(key) is None:
            obj[key] = copy.deepcopy(value)
    return obj


def apply() -> None:
    si = R.SetupIntent
    si._api_create = classmethod(api_create)
    si._api_confirm = classmethod(api_confirm)
    si._api_authenticate = classmethod(api_authenticate)
    si._api_cancel = classmethod(api_cancel)
    si._api_update = classmethod(api_update)
    si._api_list_all = classmethod(list_all)
    si._fs_shape = _si_shape
    if not any(url == AUTHENTICATE_ROUTE for _, url, _ in R.extra_apis):
        R.extra_apis.append(("POST", AUTHENTICATE_ROUTE, _authenticate_route))


def _authenticate_route(**data):
    """``POST /v1/setup_intents/{id}/_authenticate`` (looked up at request time, like app.py's
    other extra routes)."""
    return R.SetupIntent._api_authenticate(**data)
