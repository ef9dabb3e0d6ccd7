from rest_framework import serializers

from .models import Filer, Filing, Holding


class DataErrorSerializer(serializers.Serializer):
    """Every error: a sentence and a machine code (config/exceptions.py)."""

    detail = serializers.CharField()
    code = serializers.CharField()


class FilerListSerializer(serializers.ModelSerializer):
    latest_period = serializers.DateField(read_only=True, allow_null=True)
    filings_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Filer
        fields = ["cik", "name", "latest_period", "filings_count"]


class FilingSummarySerializer(serializers.ModelSerializer):
    total_value = serializers.IntegerField(help_text="US dollars: sum of the positions")

    class Meta:
        model = Filing
        fields = [
            "accession_number",
            "form_type",
            "period_of_report",
            "filed_on",
            "total_value",
            "holdings_count",
            "row_count",
        ]


class HoldingSerializer(serializers.ModelSerializer):
    cusip = serializers.CharField(source="security.cusip")
    issuer_name = serializers.CharField(source="security.issuer_name")
    title_of_class = serializers.CharField(source="security.title_of_class")
    value = serializers.IntegerField(help_text="US dollars")

    class Meta:
        model = Holding
        fields = [
            "cusip",
            "issuer_name",
            "title_of_class",
            "value",
            "shares",
            "sh_prn_type",
            "put_call",
        ]


class FilerDetailSerializer(serializers.Serializer):
    cik = serializers.IntegerField()
    name = serializers.CharField()
    periods = serializers.ListField(child=serializers.DateField(), help_text="newest first")
    latest_filing = FilingSummarySerializer(allow_null=True)
    top_holdings = HoldingSerializer(many=True, help_text="the 10 largest positions by value")


class HolderSerializer(serializers.ModelSerializer):
    cik = serializers.IntegerField(source="filing.filer.cik")
    name = serializers.CharField(source="filing.filer.name")
    accession_number = serializers.CharField(source="filing.accession_number")
    period_of_report = serializers.DateField(source="filing.period_of_report")
    value = serializers.IntegerField(help_text="US dollars")

    class Meta:
        model = Holding
        fields = [
            "cik",
            "name",
            "accession_number",
            "period_of_report",
            "value",
            "shares",
            "sh_prn_type",
            "put_call",
        ]


class HoldingsQuerySerializer(serializers.Serializer):
    period = serializers.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={
            "invalid": "Give the period as a date in the form YYYY-MM-DD, e.g. 2019-12-31."
        },
    )
