"""Payment methods and Stripe's test cards, as Stripe test mode treats them.

Reproduces:

* Test PaymentMethod ids (``pm_card_visa``, ``pm_card_mastercard``, ``pm_card_chargeDeclined``,
  ``pm_card_chargeCustomerFail``, ``pm_card_threeDSecure2Required``,
  ``pm_card_authenticationRequired``, ...): each use creates a fresh ``pm_...`` for that card,
  wherever a payment method id is accepted [localstripe knew three of them].
* Test tokens in ``PaymentMethod.create(type=card, card[token]=tok_visa)`` [was 400].
* Per-card outcomes with Stripe's codes and messages: decline on attach for the "charge
  declined" cards (``card_declined``/``generic_decline``, "Your card was declined.";
  ``insufficient_funds`` "Your card has insufficient funds."; expired, incorrect CVC,
  processing error, lost/stolen), attach OK but every charge fails for 4000000000000341,
  3-D Secure for 4000002500003155 / 4000002760003184 / 4000000000003220 / 4000000000003063.
  4000000000000002 now also fails when *charged* (localstripe only failed it on attach).
* Luhn check (``incorrect_number``), 15-digit Amex, brand detection, current ``card`` shape
  (``checks``, ``networks``, ``display_brand``, ``wallet``...), ``billing_details`` shape.
* Errors as HTTP 402 ``card_error`` (stripe-python raises ``stripe.CardError``).
"""

from __future__ import annotations

import datetime
import re

from localstripe import resources as R

from ..errors import card_error, invalid_request
from .events import emit

VISA = "4242424242424242"

#: Stripe's test PaymentMethod ids -> card number (https://docs.stripe.com/testing)
TEST_CARDS = {
    "visa": VISA,
    "us": VISA,
    "visa_debit": "4000056655665556",
    "mastercard": "5555555555554444",
    "mastercard_debit": "5200828282828210",
    "mastercard_prepaid": "5105105105105100",
    "amex": "378282246310005",
    "discover": "6011111111111117",
    "threeDSecure2Required": "4000000000003220",
    "threeDSecureRequired": "4000000000003063",
    "authenticationRequired": "4000002760003184",
    "authenticationRequiredOnSetup": "4000002500003155",
    "authenticationRequiredSetupForOffSession": "4000002500003155",
    "authenticationRequiredChargeDeclinedInsufficientFunds": "4000008260003178",
    "chargeDeclined": "4000000000000002",
    "visa_chargeDeclined": "4000000000000002",
    "chargeDeclinedInsufficientFunds": "4000000000009995",
    "visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "chargeDeclinedLostCard": "4000000000009987",
    "visa_chargeDeclinedLostCard": "4000000000009987",
    "chargeDeclinedStolenCard": "4000000000009979",
    "visa_chargeDeclinedStolenCard": "4000000000009979",
    "chargeDeclinedExpiredCard": "4000000000000069",
    "visa_chargeDeclinedExpiredCard": "4000000000000069",
    "chargeDeclinedIncorrectCvc": "4000000000000127",
    "visa_chargeDeclinedIncorrectCvc": "4000000000000127",
    "chargeDeclinedProcessingError": "4000000000000119",
    "visa_chargeDeclinedProcessingError": "4000000000000119",
    "chargeCustomerFail": "4000000000000341",
}
TEST_PAYMENT_METHODS = {"pm_card_" + k: v for k, v in TEST_CARDS.items()}
TEST_TOKENS = {"tok_" + k: v for k, v in TEST_CARDS.items()}

GENERIC = ("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT = ("card_declined", "insufficient_funds", "Your card has insufficient funds.")
#: card number -> (code, decline_code, message) when the card is declined
DECLINES = {
    "4000000000000002": GENERIC,
    "4000000000009995": INSUFFICIENT,
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": (
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    "4000000000000119": (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "4000000000000341": GENERIC,
    "4000008260003178": INSUFFICIENT,
}
#: these attach fine and only fail when charged
CHARGE_ONLY_DECLINES = {"4000000000000341", "4000008260003178"}
#: 3-D Secure required on every on-session payment
REQUIRES_AUTH = {
    "4000002500003155",
    "4000002760003184",
    "4000008260003178",
    "4000000000003220",
    "4000000000003063",
    "4000008400001629",
}
#: ...and also off-session (renewals); 3155 is fine off-session once set up
REQUIRES_AUTH_OFF_SESSION = REQUIRES_AUTH - {"4000002500003155"}

AUTH_REQUIRED = (
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)
AUTH_FAILED_MESSAGE = (
    "We are unable to authenticate your payment method. Please choose a "
    "different payment method and try again."
)


def card_number(pm) -> str | None:
    return getattr(pm, "_card_number", None)


def decline_for(pm) -> tuple[str, str | None, str]:
    return DECLINES.get(card_number(pm) or "", GENERIC)


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if re.match(r"^(5[1-5]|2[2-7])", number):
        return "mastercard"
    if re.match(r"^3[47]", number):
        return "amex"
    if number.startswith("6"):
        return "discover"
    return "unknown"


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def requires_authentication(self, off_session: bool = False) -> bool:
    number = card_number(self)
    if getattr(self, "type", "card") != "card" or number is None:
        return False
    return number in (REQUIRES_AUTH_OFF_SESSION if off_session else REQUIRES_AUTH)


def attaching_is_declined(self) -> bool:
    number = card_number(self)
    return number in DECLINES and number not in CHARGE_ONLY_DECLINES


def charging_is_declined(self) -> bool:
    if getattr(self, "type", None) == "sepa_debit":
        return self._sepa_debit_iban == "DE62370400440532013001"
    return (card_number(self) or "") in DECLINES


def raise_decline(pm, **extra):
    code, decline_code, message = decline_for(pm)
    raise card_error(message, code=code, decline_code=decline_code, **extra)


def _card_from_token(token: str) -> dict:
    if token in TEST_TOKENS:
        return {"number": TEST_TOKENS[token]}
    tok = R.Token._api_retrieve(token)
    card = tok.card
    return {
        "number": card._card_number,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "cvc": "123",
    }


def _normalise_card(card) -> dict:
    if not isinstance(card, dict):
        raise invalid_request("Missing required param: card.", param="card")
    if card.get("token"):
        card = {**card, **_card_from_token(card["token"])}
    number = re.sub(r"[\s-]", "", str(card.get("number") or ""))
    if not number:
        raise invalid_request("Missing required param: card[number].", param="card[number]")
    if not number.isdigit() or not 13 <= len(number) <= 19 or not luhn_ok(number):
        raise card_error(
            "Your card number is incorrect.", code="incorrect_number", param="card[number]"
        )
    year_now = datetime.date.today().year
    exp_month = R.try_convert_to_int(card.get("exp_month", 12))
    exp_year = R.try_convert_to_int(card.get("exp_year", year_now + 5))
    if not isinstance(exp_month, int) or not 1 <= exp_month <= 12:
        raise card_error(
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            param="card[exp_month]",
        )
    if isinstance(exp_year, int) and exp_year < 100:
        exp_year += 2000
    if not isinstance(exp_year, int) or not year_now <= exp_year < 2100:
        raise card_error(
            "Your card's expiration year is invalid.",
            code="invalid_expiry_year",
            param="card[exp_year]",
        )
    cvc = str(card.get("cvc") or "")
    if cvc and (not cvc.isdigit() or len(cvc) not in (3, 4)):
        raise card_error(
            "Your card's security code is invalid.", code="invalid_cvc", param="card[cvc]"
        )
    return {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}


def _billing_details(details) -> dict:
    details = details if isinstance(details, dict) else {}
    address = details.get("address") if isinstance(details.get("address"), dict) else {}
    return {
        "address": {
            k: address.get(k) for k in ("city", "country", "line1", "line2", "postal_code", "state")
        },
        "email": details.get("email"),
        "name": details.get("name"),
        "phone": details.get("phone"),
        "tax_id": details.get("tax_id"),
    }


def pm_init(
    self,
    type=None,
    billing_details=None,
    card=None,
    sepa_debit=None,
    metadata=None,
    allow_redisplay=None,
    **kwargs,
):
    """PaymentMethod.create: card numbers, ``card[token]``, billing details, current shape."""
    kwargs.pop("payment_user_agent", None)
    kwargs.pop("guid", None)
    kwargs.pop("muid", None)
    kwargs.pop("sid", None)
    kwargs.pop("time_on_page", None)
    if kwargs:
        raise invalid_request(f"Received unknown parameter: {next(iter(kwargs))}")
    if type not in ("card", "sepa_debit"):
        raise invalid_request(
            "Invalid payment method type: must be card or sepa_debit", param="type"
        )
    if type == "sepa_debit":
        R.PaymentMethod._fs_orig_init(
            self,
            type=type,
            billing_details=billing_details,
            sepa_debit=sepa_debit,
            metadata=metadata,
        )
        self.billing_details = _billing_details(billing_details)
        self.allow_redisplay = allow_redisplay or "unspecified"
        return
    card = _normalise_card(card)
    if metadata is not None and not isinstance(metadata, dict):
        raise invalid_request("Invalid metadata", param="metadata")
    R.StripeObject.__init__(self)
    number = card["number"]
    self._card_number = number
    self.type = "card"
    self.billing_details = _billing_details(billing_details)
    brand = brand_of(number)
    self.card = {
        "brand": brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass" if card["cvc"] else None,
        },
        "country": "US",
        "display_brand": brand,
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "fingerprint": R.fingerprint(number),
        "funding": "debit" if number in ("4000056655665556", "5200828282828210") else "credit",
        "generated_from": None,
        "last4": number[-4:],
        "networks": {"available": [brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }
    self.customer = None
    self.metadata = metadata or {}
    self.allow_redisplay = allow_redisplay or "unspecified"


def try_get_canonical_test_article(cls, id):
    number = TEST_PAYMENT_METHODS.get(id)
    if number is None:
        return None
    return R.PaymentMethod(
        type="card",
        card={
            "number": number,
            "exp_month": 12,
            "exp_year": datetime.date.today().year + 3,
            "cvc": "123",
        },
    )


def attach_to_customer(pm, customer_id: str, emit_event: bool = True):
    """Stripe's attach: checks the card (declined cards fail here), one customer per PM."""
    R.Customer._api_retrieve(customer_id)
    if pm.customer == customer_id:
        return pm
    if pm.customer is not None:
        raise invalid_request(
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
        )
    if pm._attaching_is_declined():
        raise_decline(pm, param="")
    pm.customer = customer_id
    if emit_event:
        emit("payment_method.attached", pm)
    return pm


def api_attach(cls, id, customer=None, expand=None, **kwargs):
    if kwargs:
        raise invalid_request(f"Received unknown parameter: {next(iter(kwargs))}")
    if not isinstance(customer, str) or not customer:
        raise invalid_request("Missing required param: customer.", param="customer")
    pm = cls._api_retrieve(id)
    return attach_to_customer(pm, customer)


def api_detach(cls, id, **kwargs):
    pm = cls._api_retrieve(id)
    if pm.customer is None:
        raise invalid_request(
            "The payment method you provided is not attached to a customer so "
            "detachment is impossible.",
            code="payment_method_unexpected_state",
        )
    pm.customer = None
    emit("payment_method.detached", pm)
    return pm


def customer_payment_method(customer_id: str, pm_id: str, param: str):
    """A PM usable as a customer's/subscription's default: test ids are attached on the fly."""
    if pm_id in TEST_PAYMENT_METHODS:
        return attach_to_customer(R.PaymentMethod._api_retrieve(pm_id), customer_id)
    pm = R.PaymentMethod._api_retrieve(pm_id)
    if getattr(pm, "customer", None) != customer_id:
        raise invalid_request(
            f"The customer does not have a payment method with the ID {pm_id}. The payment "
            "method must be attached to the customer.",
            param=param,
        )
    return pm


def _pm_shape(self, obj):
    obj.setdefault("allow_redisplay", "unspecified")
    obj.setdefault("customer_account", None)
    if not isinstance(obj.get("billing_details"), dict) or "address" not in obj["billing_details"]:
        obj["billing_details"] = _billing_details(obj.get("billing_details"))
    return obj


def pm_list_all(cls, url, customer=None, type=None, limit=None, starting_after=None, **kwargs):
    if kwargs:
        raise invalid_request(f"Received unknown parameter: {next(iter(kwargs))}")
    if customer is not None:
        R.Customer._api_retrieve(customer)
    li = R.StripeObject._api_list_all.__func__(cls, url, limit=limit, starting_after=starting_after)
    li._list = [
        pm
        for pm in li._list
        if (customer is None or pm.customer == customer) and (type is None or pm.type == type)
    ]
    return li


def charge_set_auth_failure(self):
    """A failed charge carries the card's own decline code and message."""
    pm = R.PaymentMethod._api_retrieve(self.payment_method)
    code, decline_code, message = decline_for(pm)
    self.status = "failed"
    self.failure_code = code
    self.failure_message = message
    self._decline_code = decline_code
    self.outcome = {
        "network_status": "declined_by_network",
        "reason": decline_code,
        "risk_level": "normal",
        "seller_message": "The bank declined the payment.",
        "type": "issuer_declined",
    }


def charge_raise_failure(self):
    raise card_error(
        self.failure_message,
        code=self.failure_code,
        decline_code=getattr(self, "_decline_code", None),
        charge=self.id,
    )


def apply() -> None:
    pm = R.PaymentMethod
    if not hasattr(pm, "_fs_orig_init"):
        pm._fs_orig_init = pm.__init__
    pm.__init__ = pm_init
    pm._try_get_canonical_test_article = classmethod(try_get_canonical_test_article)
    pm._requires_authentication = requires_authentication
    pm._attaching_is_declined = attaching_is_declined
    pm._charging_is_declined = charging_is_declined
    pm._api_attach = classmethod(api_attach)
    pm._api_detach = classmethod(api_detach)
    pm._api_list_all = classmethod(pm_list_all)
    pm._fs_shape = _pm_shape
    R.Charge._set_auth_failure = charge_set_auth_failure
    R.Charge._raise_failure = charge_raise_failure
