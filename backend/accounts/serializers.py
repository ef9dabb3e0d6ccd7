from rest_framework import serializers


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    access_expires = serializers.DateTimeField()
    refresh_expires = serializers.DateTimeField()


class RefreshInputSerializer(serializers.Serializer):
    # The schema says what is refused with 400 (minLength, pattern): an empty string, or one
    # that is not shaped like a JWT (three base64url parts). A well-shaped token that is
    # expired, forged or revoked is a 401 (services.py).
    refresh = serializers.RegexField(
        r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$",
        min_length=1,
        max_length=4096,
        error_messages={"invalid": "This is not a token: expected three base64url parts."},
    )


class RefreshedPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class UsageSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    limit = serializers.IntegerField(allow_null=True)
    resets_at = serializers.DateTimeField(allow_null=True)


class AccountSerializer(serializers.Serializer):
    """Documents ``GET /api/account/``; the body itself comes from ``account_summary``."""

    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    tier = serializers.ChoiceField(choices=["guest", "free", "premium"])
    subscription = serializers.DictField(help_text="The status object (see billing).")
    usage = UsageSerializer()


class AuthErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
