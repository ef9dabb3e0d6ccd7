from typing import Any

from rest_framework import serializers

#: Stripe ids are checked for shape before Stripe is asked about them.
PAYMENT_METHOD_ID = r"^pm_[A-Za-z0-9_]{1,200}$"
INVOICE_ID = r"^in_[A-Za-z0-9_]{1,200}$"
PAYMENT_METHOD_ID_INVALID = "payment_method_id must be a Stripe PaymentMethod id (pm_...)."


class CreateSubscriptionSerializer(serializers.Serializer):
    payment_method_id = serializers.RegexField(
        PAYMENT_METHOD_ID,
        required=False,
        allow_null=True,
        error_messages={"invalid": PAYMENT_METHOD_ID_INVALID},
    )


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


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true``/``false`` only. DRF's own also reads 0, 0.0, "no", "off", "false" as False:
    for a cancel, "now" must not follow from a number or a word."""

    def to_internal_value(self, data: object) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")  # fail() raises


class CancelSubscriptionSerializer(serializers.Serializer):
    at_period_end = StrictBooleanField(required=False, default=True)


class PriceSerializer(serializers.Serializer):
    id = serializers.CharField()
    unit_amount = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")
    currency = serializers.CharField()
    interval = serializers.CharField()
    product_name = serializers.CharField()


class ConfigSerializer(serializers.Serializer):
    publishable_key = serializers.CharField()
    price = PriceSerializer()
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


class PaymentProblemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["payment_failed", "action_required"])
    invoice_id = serializers.CharField()
    amount_due = serializers.IntegerField(help_text="In the currency's smallest unit (cents).")
    currency = serializers.CharField()
    next_attempt = serializers.DateTimeField(
        allow_null=True, help_text="When Stripe charges the card again by itself, if it will."
    )


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
