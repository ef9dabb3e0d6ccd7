"""Reads of 13F data for the API. Nothing here writes."""

from datetime import date
from typing import Any

from django.db.models import Count, Max, Q, QuerySet

from .models import LATEST_ORDER, Filer, Filing, Holding, Security

TOP_HOLDINGS = 10


def filer_search(*, q: str = "") -> QuerySet[Filer]:
    """Filers whose name contains ``q`` (any case), or whose CIK is ``q`` (zeros optional)."""
    filers = Filer.objects.annotate(
        latest_period=Max("filings__period_of_report"), filings_count=Count("filings")
    )
    q = q.strip()
    if q:
        match = Q(name__icontains=q)
        if q.isdecimal() and len(q) <= 10:  # isdigit() admits "²", which int() refuses
            match |= Q(cik=int(q))
        filers = filers.filter(match)
    return filers.order_by("name", "cik")


def filer_by_cik(*, cik: str) -> Filer | None:
    """The filer with this CIK (as in URLs: digits, leading zeros optional)."""
    if not cik.isdecimal() or len(cik) > 10:  # not isdigit(): "²" is no number
        return None
    return Filer.objects.filter(cik=int(cik)).first()


def filings_of(*, filer: Filer) -> QuerySet[Filing]:
    """Newest period first; for one period, the latest filed first."""
    return filer.filings.order_by(*LATEST_ORDER)


def filing_for(*, filer: Filer, period: date | None = None) -> Filing | None:
    """The filer's filing for ``period``, or its latest filing when no period is given."""
    filings = filings_of(filer=filer)
    if period is not None:
        filings = filings.filter(period_of_report=period)
    return filings.first()


def periods_of(*, filer: Filer) -> list[date]:
    """The periods the filer reported on, newest first, each once (amendments included).

    Ordered by the period alone: DISTINCT also selects every ``ORDER BY`` column, so the
    ordering of :func:`filings_of` would list an amended period once per filing.
    """
    periods = filer.filings.order_by("-period_of_report").values_list("period_of_report", flat=True)
    return list(periods.distinct())


def holdings_of(*, filing: Filing) -> QuerySet[Holding]:
    """The positions of a filing, largest value first."""
    return (
        Holding.objects.filter(filing=filing)
        .select_related("security")
        .order_by("-value", "security__cusip", "put_call", "id")
    )


def filer_detail(*, filer: Filer) -> dict[str, Any]:
    """The filer, its latest filing's summary and its ten largest positions."""
    latest = filing_for(filer=filer)
    return {
        "cik": filer.cik,
        "name": filer.name,
        "periods": periods_of(filer=filer),
        "latest_filing": latest,
        "top_holdings": list(holdings_of(filing=latest)[:TOP_HOLDINGS]) if latest else [],
    }


def security_by_cusip(*, cusip: str) -> Security | None:
    cusip = cusip.strip().upper()
    if not cusip.isalnum() or len(cusip) != 9:
        return None
    return Security.objects.filter(cusip=cusip).first()


def holders_of(*, security: Security) -> QuerySet[Holding]:
    """Current holders: positions in ``security`` in each filer's latest filing.

    A filer whose latest report no longer lists the security is not a holder (any more).
    Largest position first. The latest filing is the one the loader marked ``is_latest``
    (``LATEST_ORDER`` first), so a page is read along ``holding_security_value_idx``.
    """
    return (
        Holding.objects.filter(security=security, filing__is_latest=True)
        .select_related("filing__filer")
        .order_by("-value", "filing__filer__name", "put_call", "id")
    )
