from django.contrib import admin

from .models import Filer, Filing, Holding, Security


@admin.register(Filer)
class FilerAdmin(admin.ModelAdmin):
    list_display = ["name", "cik"]
    search_fields = ["name", "=cik"]


@admin.register(Filing)
class FilingAdmin(admin.ModelAdmin):
    list_display = ["accession_number", "filer", "form_type", "period_of_report", "holdings_count"]
    list_filter = ["form_type", "period_of_report"]
    search_fields = ["accession_number", "filer__name"]
    raw_id_fields = ["filer"]


@admin.register(Security)
class SecurityAdmin(admin.ModelAdmin):
    list_display = ["cusip", "issuer_name", "title_of_class"]
    search_fields = ["=cusip", "issuer_name"]


@admin.register(Holding)
class HoldingAdmin(admin.ModelAdmin):
    list_display = ["filing", "security", "value", "shares", "sh_prn_type", "put_call"]
    raw_id_fields = ["filing", "security"]
