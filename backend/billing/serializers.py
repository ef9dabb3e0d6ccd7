from rest_framework import serializers


class CreateSubscriptionSerializer(serializers.Serializer):
    payment_method_id = serializers.RegexField(
        r"^pm_[A-Za-z0-9_]{1,200}$",
        required=False,
        allow_null=True,
        error_messages={"invalid": "payment_method_id must be a Stripe PaymentMethod id (pm_...)."},
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


class PurchaseSerializer(serializers.Serializer):
    subscription_id = serializers.CharField()
    status = serializers.CharField(help_text="Stripe's subscription status.")
    client_secret = serializers.CharField(
        allow_null=True, help_text="Set while the first payment needs confirming in the browser."
    )
    premium = serializers.BooleanField()


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


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
