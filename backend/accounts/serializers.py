from rest_framework import serializers


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    access_expires = serializers.DateTimeField()
    refresh_expires = serializers.DateTimeField()


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, trim_whitespace=True)


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
