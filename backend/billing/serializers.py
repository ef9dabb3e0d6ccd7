from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

#: Stripe ids are checked for shape before Stripe is asked about them.
PAYMENT_METHOD_ID = r"^pm_[A-Za-z0-9_]{1,200}$"
INVOICE_ID = r"^in_[A-Za-z0-9_]{1,200}$"
PAYMENT_METHOD_ID_INVALID = "payment_method_id must be a Stripe PaymentMethod id (pm_...)."


@extend_schema_field(OpenApiTypes.STR)
class PriceRefField(serializers.Field):
    """A price as the client names it: the id or the lookup key of one of Premium's prices.

    Taken as given (any JSON value): the service (``plans.price_resolve``) refuses whatever
    is not one of our prices (another product's, unknown, malformed, not a string) with the
    one answer 400 ``invalid_price``, so nothing about other prices can be learnt from it.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault(
            "help_text",
            "The id (price_...) or lookup key of one of Premium's prices (config's `prices`); "
            "default: the monthly price.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true``/``false`` only. DRF's own also reads 0, 0.0, "no", "off", "false" as False:
    for a cancel, "now" must not follow from a number or a word."""

    def to_internal_value(self, data: object) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")  # fail() raises


class CreateSubscriptionSerializer(serializers.Serializer):
    payment_method_id = serializers.RegexField(
        PAYMENT_METHOD_ID,
        required=False,
        allow_null=True,
        error_messages={"invalid": PAYMENT_METHOD_ID_INVALID},
    )
    price = PriceRefField()
    promotion_code = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A promotion code the customer typed (e.g. WELCOME50), checked as in "
        "POST promotion-code/; it becomes the subscription's discount. Empty: none.",
    )
    trial = StrictBooleanField(
        required=False,
        default=False,
        help_text="Start with the free trial (a first subscription only; `trial_days` in config).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("trial") and attrs.get("promotion_code"):
            raise serializers.ValidationError(
                "A promotion code cannot be combined with the free trial.", code="invalid"
            )
        return attrs


class PaymentMethodChangeSerializer(serializers.Serializer):
    payment_method_id = serializers.RegexField(
        PAYMENT_METHOD_ID,
        help_text="The new card: a succeeded SetupIntent's payment_method, or a Stripe test id.",
        error_messages={"invalid": PAYMENT_METHOD_ID_INVALID},
    )


def _given(field: serializers.Field, query: Any) -> Any:
    """The query parameter as given. DRF reads an empty optional one (``?starting_after=``) as
    absent, a habit of HTML forms; here it is validated, so it is a 400."""
    return query.get(field.field_name) if field.field_name in query else serializers.empty


class QueryRegexField(serializers.RegexField):
    def get_value(self, dictionary: Any) -> Any:
        return _given(self, dictionary)


class QueryIntegerField(serializers.IntegerField):
    def get_value(self, dictionary: Any) -> Any:
        return _given(self, dictionary)


class InvoiceListQuerySerializer(serializers.Serializer):
    starting_after = QueryRegexField(
        INVOICE_ID,
        required=False,
        help_text="The last invoice id of the previous page.",
        error_messages={"invalid": "starting_after must be a Stripe invoice id (in_...)."},
    )
    limit = QueryIntegerField(
        required=False, min_value=1, max_value=100, default=10, help_text="Invoices per page."
    )


class CancelSubscriptionSerializer(serializers.Serializer):
    at_period_end = StrictBooleanField(required=False, default=True)


class PriceSerializer(serializers.Serializer):
    id = serializers.CharField()
    lookup_key = serializers.CharField(help_text="Stripe's lookup key of the price (may be empty).")
    unit_amount = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")
    currency = serializers.CharField()
    interval = serializers.CharField(help_text='"month" or "year".')
    product_name = serializers.CharField()


class ConfigSerializer(serializers.Serializer):
    publishable_key = serializers.CharField()
    price = PriceSerializer(help_text="The monthly price (the default of a purchase).")
    prices = PriceSerializer(many=True, help_text="Premium's prices: monthly first, then yearly.")
    trial_days = serializers.IntegerField(
        help_text="Days of free trial for a first subscription; 0: no trial is offered."
    )
    js_url = serializers.CharField(help_text="Where the browser loads Stripe.js from.")
    portal = serializers.BooleanField(
        help_text="Whether Stripe's customer portal is offered (POST portal-session/)."
    )


class PurchaseSerializer(serializers.Serializer):
    subscription_id = serializers.CharField()
    status = serializers.CharField(help_text="Stripe's subscription status.")
    client_secret = serializers.CharField(
        allow_null=True, help_text="Set while the first payment needs confirming in the browser."
    )
    premium = serializers.BooleanField()
    intent_type = serializers.ChoiceField(
        choices=["payment", "setup"],
        allow_null=True,
        help_text="What `client_secret` is: a PaymentIntent's (stripe.confirmPayment) or, for a "
        "trial, a SetupIntent's (stripe.confirmSetup); null without a secret.",
    )
    trial_end = serializers.DateTimeField(allow_null=True, help_text="Set while trialing.")


class PaymentProblemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["payment_failed", "action_required"])
    invoice_id = serializers.CharField()
    amount_due = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")
    currency = serializers.CharField()
    next_attempt = serializers.DateTimeField(
        allow_null=True, help_text="When Stripe charges the card again by itself, if it will."
    )


class ScheduledChangeSerializer(serializers.Serializer):
    price = PriceSerializer()
    interval = serializers.CharField(allow_null=True)
    effective_at = serializers.DateTimeField(help_text="When the new price takes over.")


class StatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["none", "incomplete", "active", "cancelling", "past_due", "cancelled"]
    )
    stripe_status = serializers.CharField(allow_null=True)
    premium = serializers.BooleanField()
    premium_until = serializers.DateTimeField(allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    subscription_id = serializers.CharField(allow_null=True)
    payment_problem = PaymentProblemSerializer(
        allow_null=True,
        help_text="Set while the latest invoice is open after a failed or unconfirmed renewal.",
    )
    price = PriceSerializer(allow_null=True, help_text="The subscription's price now.")
    interval = serializers.CharField(allow_null=True, help_text='"month", "year" or null.')
    scheduled_change = ScheduledChangeSerializer(
        allow_null=True,
        help_text="A plan change waiting for the end of the paid period (yearly -> monthly).",
    )
    trial_end = serializers.DateTimeField(
        allow_null=True, help_text="When the free trial ends; set while trialing."
    )
    trial_eligible = serializers.BooleanField(
        help_text="A free trial is offered and the user never had a subscription."
    )


class CardSerializer(serializers.Serializer):
    id = serializers.CharField()
    brand = serializers.CharField(allow_null=True)
    last4 = serializers.CharField(allow_null=True)
    exp_month = serializers.IntegerField(allow_null=True)
    exp_year = serializers.IntegerField(allow_null=True)


class PaymentMethodSerializer(serializers.Serializer):
    payment_method = CardSerializer(allow_null=True)


class InvoiceSerializer(serializers.Serializer):
    id = serializers.CharField()
    number = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["draft", "open", "paid", "void", "uncollectible"])
    amount_due = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")
    amount_paid = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")
    currency = serializers.CharField()
    created = serializers.DateTimeField(allow_null=True)
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    hosted_invoice_url = serializers.CharField(allow_null=True)
    invoice_pdf = serializers.CharField(allow_null=True)
    client_secret = serializers.CharField(
        allow_null=True,
        help_text="Set while the invoice's payment waits for 3-D Secure in the browser.",
    )


class InvoiceListSerializer(serializers.Serializer):
    results = InvoiceSerializer(many=True)
    has_more = serializers.BooleanField()


class PaymentMethodChangedSerializer(serializers.Serializer):
    payment_method = CardSerializer()
    invoice = InvoiceSerializer(
        allow_null=True, help_text="The open invoice paid (or tried) with the new card, if any."
    )
    subscription = StatusSerializer(help_text="The status object after the change.")


class SetupIntentSerializer(serializers.Serializer):
    client_secret = serializers.CharField()


class PortalSessionSerializer(serializers.Serializer):
    url = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class PromotionCodeCheckSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The code the customer typed (any case).")
    price = PriceRefField()


class PromotionCodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The code as Stripe spells it.")
    promotion_code_id = serializers.CharField(help_text="promo_...")
    percent_off = serializers.FloatField(allow_null=True)
    amount_off = serializers.IntegerField(
        allow_null=True, help_text="In the currency's smallest unit (cents)."
    )
    duration = serializers.ChoiceField(choices=["once", "repeating", "forever"])
    duration_in_months = serializers.IntegerField(allow_null=True)
    price = PriceSerializer(help_text="The price the code was checked for.")
    amount = serializers.IntegerField(help_text="The price before the discount (cents).")
    discount = serializers.IntegerField(help_text="What the code takes off the first invoice.")
    first_amount = serializers.IntegerField(
        help_text="What the first invoice will charge (Stripe's invoice preview)."
    )
    currency = serializers.CharField()
    description = serializers.CharField(help_text='e.g. "50% off the first payment".')


class PlanChangeSerializer(serializers.Serializer):
    price = PriceRefField(
        required=True,
        allow_null=False,
        help_text="The id (price_...) or lookup key of the Premium price to change to.",
    )


class PlanChangeConfirmSerializer(PlanChangeSerializer):
    proration_date = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="The preview's `proration_date` (Unix seconds, at most an hour old), so that "
        "the charge equals the preview; without it: now.",
    )


class PlanChangeLineSerializer(serializers.Serializer):
    description = serializers.CharField()
    amount = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")
    proration = serializers.BooleanField(help_text="A credit or charge for part of a period.")


class PlanChangePreviewSerializer(serializers.Serializer):
    price = PriceSerializer(help_text="The new price.")
    timing = serializers.ChoiceField(
        choices=["now", "period_end"],
        help_text="now: charged at once (monthly -> yearly); period_end: at the end of the paid "
        "period (yearly -> monthly), nothing charged now.",
    )
    effective_at = serializers.DateTimeField(help_text="When the new price takes over.")
    amount_due = serializers.IntegerField(
        help_text="now: what the change charges now; period_end: the first invoice then (cents)."
    )
    currency = serializers.CharField()
    proration_date = serializers.IntegerField(
        help_text="Unix seconds: send it back with change/ so the charge equals this preview."
    )
    lines = PlanChangeLineSerializer(many=True)


class PlanChangedSerializer(serializers.Serializer):
    subscription = StatusSerializer(help_text="The status object after the change.")
    invoice = InvoiceSerializer(
        allow_null=True,
        help_text="The prorated invoice of a change now (`client_secret` set while it waits for "
        "3-D Secure); null for a change at the period end.",
    )
