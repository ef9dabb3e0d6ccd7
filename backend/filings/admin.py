from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from .ingest import ingest_status_counts
from .models import Filer, Filing, Holding, IngestFiling, Security
from .services import filers_latest_mark


@admin.register(Filer)
class FilerAdmin(admin.ModelAdmin):
    list_display = ["name", "cik"]
    search_fields = ["name", "=cik"]


@admin.register(Filing)
class FilingAdmin(admin.ModelAdmin):
    """Filings; a change or a deletion here marks the filers' latest filings again (the
    holders of a security are those of each filer's latest filing)."""

    list_display = ["accession_number", "filer", "form_type", "period_of_report", "holdings_count"]
    list_filter = ["form_type", "period_of_report"]
    search_fields = ["accession_number", "filer__name"]
    raw_id_fields = ["filer"]

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: Filing, form: Any, change: bool) -> None:
        before = form.initial.get("filer") if change else None
        super().save_model(request, obj, form, change)
        filers_latest_mark(filer_ids=[obj.filer_id, *([before] if before else [])])

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: Filing) -> None:
        filer_id = obj.filer_id
        super().delete_model(request, obj)
        filers_latest_mark(filer_ids=[filer_id])

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Filing]) -> None:
        filer_ids = list(queryset.values_list("filer_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        filers_latest_mark(filer_ids=filer_ids)


@admin.register(Security)
class SecurityAdmin(admin.ModelAdmin):
    list_display = ["cusip", "issuer_name", "title_of_class"]
    search_fields = ["=cusip", "issuer_name"]


@admin.register(Holding)
class HoldingAdmin(admin.ModelAdmin):
    list_display = ["filing", "security", "value", "shares", "sh_prn_type", "put_call"]
    raw_id_fields = ["filing", "security"]


@admin.register(IngestFiling)
class IngestFilingAdmin(admin.ModelAdmin):
    """EDGAR ingestion (manage.py ingest_13f): counts per status in the title, the failures
    with their reasons under the "failed" filter. Read-only: the workers own these rows."""

    list_display = ["accession_number", "company_name", "form_type", "quarter", "status",
                    "attempts", "reason", "updated_at"]  # fmt: skip
    list_filter = ["status", "quarter", "form_type"]
    search_fields = ["accession_number", "company_name", "=cik"]
    readonly_fields = [f.name for f in IngestFiling._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = ingest_status_counts()
        title = "EDGAR ingestion — " + ", ".join(f"{k} {v}" for k, v in counts.items())
        return super().changelist_view(request, {**(extra_context or {}), "title": title})
