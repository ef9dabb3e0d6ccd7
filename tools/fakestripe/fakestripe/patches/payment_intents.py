"""PaymentIntents: confirm with a payment method, 3-D Secure, declines, current shape.

Reproduces:

* ``POST /v1/payment_intents/{id}/confirm`` with ``payment_method`` (an id or a test id such as
  ``pm_card_visa``) or ``payment_method_data`` [localstripe: 500 "Not implemented"], from
  ``requires_payment_method`` / ``requires_confirmation`` / ``requires_action``; with a
  publishable key it must carry the PaymentIntent's ``client_secret`` (the Stripe.js path).
* Outcomes per test card: success (``succeeded``; the invoice is paid, the subscription
  activates), 3-D Secure (``requires_action`` + ``next_action.use_stripe_sdk`` until
  ``POST .../_authenticate?success=true|false``), declines (HTTP 402 ``card_error`` whose body
  carries ``payment_intent``; the PaymentIntent goes back to ``requires_payment_method`` with
  ``last_payment_error``), and a failed authentication gives
  ``payment_intent_authentication_failure`` "We are unable to authenticate your payment
  method...". A retry with another card on the same PaymentIntent works.
* ``setup_future_usage``: the confirmed card is attached to the customer on success.
* Off-session confirmations (renewals, ``/v1/invoices/{id}/pay``) of always-authenticate cards
  end in ``requires_action`` with ``invoice.payment_action_required`` *and*
  ``invoice.payment_failed`` (the subscription turns ``past_due``), like Stripe; the customer
  then completes the payment with the PaymentIntent's client secret (``handleNextAction``).
* Current shape: ``latest_charge`` is an id, no ``charges`` / ``invoice`` fields.
"""

from __future__ import annotations

from localstripe import resources as R

from ..errors import DOC_URL, card_error, invalid_request
from . import cards
from .events import emit
from .intents import confirmable_check

PI_EXTRA_PARAMS = (
    "automatic_payment_methods",
    "setup_future_usage",
    "description",
    "receipt_email",
    "return_url",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "confirmation_method",
    "error_on_requires_action",
    "use_stripe_sdk",
    "mandate_data",
    "shipping",
)


def _resolve_pm(payment_method=None, payment_method_data=None):
    if payment_method_data is not None:
        if not isinstance(payment_method_data, dict):
            raise invalid_request("Invalid payment_method_data", param="payment_method_data")
        return R.PaymentMethod(**payment_method_data)
    if payment_method is not None:
        if not isinstance(payment_method, str):
            raise invalid_request("Invalid payment_method", param="payment_method")
        return R.PaymentMethod._api_retrieve(payment_method)
    return None


def _charge_failed(pi, raise_errors: bool) -> None:
    emit("payment_intent.payment_failed", pi)
    if pi.invoice:
        R.Invoice._api_retrieve(pi.invoice)._on_payment_failure_now()
    if raise_errors:
        charge = pi.latest_charge
        pm = R.PaymentMethod._api_retrieve(pi.payment_method)
        raise card_error(
            charge.failure_message,
            code=charge.failure_code,
            decline_code=getattr(charge, "_decline_code", None),
            charge=charge.id,
            payment_intent=pi._export(),
            payment_method=pm._export(),
        )


def _after_success(pi) -> None:
    if pi.status != "succeeded" or not pi.customer:
        return
    pm = R.PaymentMethod._api_retrieve(pi.payment_method)
    if getattr(pi, "setup_future_usage", None) and getattr(pm, "customer", "x") is None:
        pm.customer = pi.customer
        emit("payment_method.attached", pm)


def confirm_pi(
    pi, *, off_session: bool = False, raise_errors: bool = True, automatic: bool = False
):
    """Attempt the payment with ``pi.payment_method`` (already set).

    ``automatic``: Stripe's own attempt (a renewal, a Smart Retry), not one the integration or
    the customer started; it counts in the invoice's ``attempt_count`` and schedules the next
    retry.
    """
    pm = R.PaymentMethod._api_retrieve(pi.payment_method)
    pi.payment_method = pm.id
    waiting_for = ((pi.next_action or {}).get("use_stripe_sdk") or {}).get("source")
    if not automatic and waiting_for == pm.id and cards.requires_authentication(pm, off_session):
        # Confirmed again while the same card's challenge is pending (confirmCardPayment on a
        # requires_action PaymentIntent, a repeated /pay): the same attempt, so no new events
        # (and no second "action required" e-mail from the app).
        return pi
    if pi.invoice:
        R.Invoice._api_retrieve(pi.invoice)._fs_note_attempt(automatic)
    pi._authentication_failed = False
    pi.next_action = None
    if pi.latest_charge is not None and pi.latest_charge.status == "failed":
        pi.latest_charge = None
    if cards.requires_authentication(pm, off_session=off_session):
        pi.next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": "", "source": pm.id},
        }
        emit("payment_intent.requires_action", pi)
        if pi.invoice:
            invoice = R.Invoice._api_retrieve(pi.invoice)
            emit("invoice.payment_action_required", invoice)
            if off_session:
                invoice._on_payment_failure_now()
        return pi
    pi._create_charge(on_failure_now=lambda: _charge_failed(pi, raise_errors))
    _after_success(pi)
    return pi


def api_create(cls, confirm=None, off_session=None, **data):
    confirm = R.try_convert_to_bool(confirm)
    off_session = R.try_convert_to_bool(off_session)
    extras = {k: data.pop(k) for k in PI_EXTRA_PARAMS if k in data}
    pm = data.get("payment_method")
    if isinstance(pm, str) and pm in cards.TEST_PAYMENT_METHODS:
        data["payment_method"] = R.PaymentMethod._api_retrieve(pm).id
    obj = cls(**data)
    obj.setup_future_usage = extras.get("setup_future_usage")
    obj.description = extras.get("description")
    obj.receipt_email = extras.get("receipt_email")
    if confirm:
        if not obj.payment_method:
            raise invalid_request(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        confirm_pi(obj, off_session=bool(off_session))
    return obj


def api_confirm(
    cls,
    id,
    payment_method=None,
    payment_method_data=None,
    client_secret=None,
    off_session=None,
    setup_future_usage=None,
    return_url=None,
    use_stripe_sdk=None,
    mandate_data=None,
    payment_method_options=None,
    error_on_requires_action=None,
    receipt_email=None,
    payment_method_types=None,
    save_payment_method=None,
    **kwargs,
):
    if kwargs:
        raise invalid_request(f"Received unknown parameter: {next(iter(kwargs))}")
    obj = cls._api_retrieve(id)
    confirmable_check(obj, "PaymentIntent", client_secret)
    pm = _resolve_pm(payment_method, payment_method_data)
    if pm is not None:
        if obj.customer and getattr(pm, "customer", None) not in (None, obj.customer):
            raise invalid_request(
                "The provided PaymentMethod belongs to another customer.", param="payment_method"
            )
        obj.payment_method = pm.id
    elif not obj.payment_method:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent with a payment method, pass its ID in the `payment_method` "
            "parameter.",
            code="payment_intent_unexpected_state",
        )
    if setup_future_usage is not None:
        obj.setup_future_usage = setup_future_usage or None
    if receipt_email is not None:
        obj.receipt_email = receipt_email
    return confirm_pi(obj, off_session=bool(R.try_convert_to_bool(off_session)))


def api_authenticate(cls, id, client_secret=None, success=False, **kwargs):
    """localstripe's 3-D Secure outcome hook, used by the Stripe.js stand-in's modal."""
    success = R.try_convert_to_bool(success)
    obj = cls._api_retrieve(id)
    if client_secret != obj.client_secret:
        raise invalid_request(
            "The client_secret provided does not match the client_secret "
            "associated with the PaymentIntent.",
            param="client_secret",
            status=401,
        )
    if obj.status != "requires_action":
        raise invalid_request(
            f"This PaymentIntent has a status of {obj.status}, not requires_action.",
            code="payment_intent_unexpected_state",
        )
    obj.next_action = None
    if success is True:
        obj._create_charge(on_failure_now=lambda: _charge_failed(obj, raise_errors=False))
        _after_success(obj)
    else:
        obj._authentication_failed = True
        obj._fs_failed_pm = obj.payment_method
        obj.payment_method = None
        emit("payment_intent.payment_failed", obj)
        if obj.invoice:
            R.Invoice._api_retrieve(obj.invoice)._on_payment_failure_later()
    return obj


def last_payment_error(self):
    if self._authentication_failed:
        pm_id = getattr(self, "_fs_failed_pm", None)
        return {
            "code": "payment_intent_authentication_failure",
            "doc_url": DOC_URL + "payment-intent-authentication-failure",
            "message": cards.AUTH_FAILED_MESSAGE,
            "payment_method": R.PaymentMethod._api_retrieve(pm_id)._export() if pm_id else None,
            "type": "card_error",
        }
    charge = self.latest_charge
    if charge is not None and charge.status == "failed":
        return {
            "charge": charge.id,
            "code": charge.failure_code,
            "decline_code": getattr(charge, "_decline_code", None),
            "doc_url": DOC_URL + str(charge.failure_code).replace("_", "-"),
            "message": charge.failure_message,
            "payment_method": R.PaymentMethod._api_retrieve(charge.payment_method)._export(),
            "type": "card_error",
        }
    return None


PI_DEFAULTS = {
    "amount_capturable": 0,
    "amount_details": {"tip": {}},
    "application": None,
    "application_fee_amount": None,
    "automatic_payment_methods": None,
    "canceled_at": None,
    "cancellation_reason": None,
    "confirmation_method": "automatic",
    "description": None,
    "excluded_payment_method_types": None,
    "on_behalf_of": None,
    "payment_method_configuration_details": None,
    "payment_method_options": {},
    "payment_method_types": ["card"],
    "processing": None,
    "receipt_email": None,
    "review": None,
    "setup_future_usage": None,
    "shipping": None,
    "source": None,
    "statement_descriptor": None,
    "statement_descriptor_suffix": None,
    "transfer_data": None,
    "transfer_group": None,
}


def _pi_shape(self, obj):
    charge = self.latest_charge
    obj["latest_charge"] = charge.id if charge is not None else None
    obj.pop("charges", None)
    obj.pop("invoice", None)
    for key, value in PI_DEFAULTS.items():
        obj.setdefault(key, value)
    obj["amount_received"] = self.amount if obj["status"] == "succeeded" else 0
    return obj


def apply() -> None:
    pi = R.PaymentIntent
    pi._api_create = classmethod(api_create)
    pi._api_confirm = classmethod(api_confirm)
    pi._api_authenticate = classmethod(api_authenticate)
    pi.last_payment_error = property(last_payment_error)
    pi._fs_shape = _pi_shape
