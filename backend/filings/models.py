"""SEC Form 13F data: who filed (Filer), which report (Filing), what (Security), how much
(Holding)."""

from django.db import models


class Filer(models.Model):
    """An institutional investment manager, identified by its SEC Central Index Key."""

    cik = models.PositiveBigIntegerField(unique=True)
    # Indexed for the name-ordered list; `?q=` is a substring match.
    name = models.CharField(max_length=255, db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.cik})"


#: A filer's filings, latest first: the newest period, of it the last filed.
LATEST_ORDER = ("-period_of_report", "-filed_on", "-id")


class Filing(models.Model):
    """One 13F report of a filer for one calendar quarter."""

    accession_number = models.CharField(max_length=20, unique=True)
    filer = models.ForeignKey(Filer, on_delete=models.CASCADE, related_name="filings")
    form_type = models.CharField(max_length=16)
    period_of_report = models.DateField()
    filed_on = models.DateField(null=True, blank=True)
    # Sum of the positions in dollars (whatever unit the filing used).
    total_value = models.BigIntegerField()
    # Positions after aggregation, and the information-table rows they came from.
    holdings_count = models.PositiveIntegerField()
    row_count = models.PositiveIntegerField()
    # The cover page's own totals, as filed (value in dollars), for cross-checks.
    reported_entry_total = models.PositiveIntegerField(null=True, blank=True)
    reported_value_total = models.BigIntegerField(null=True, blank=True)
    values_in_thousands = models.BooleanField(default=False)
    source_name = models.CharField(max_length=255, blank=True, default="")
    # A 13F-HR/A's amendment type: RESTATEMENT (replaced the earlier report of the period) or
    # NEW HOLDINGS (adds to it); "" for an original report.
    amendment_type = models.CharField(max_length=16, blank=True, default="")
    # The filer's latest filing (LATEST_ORDER first), kept by the loader (services.py): the
    # holders of a security are the positions of latest filings, and a flag on the row lets
    # the query walk a security's holdings by value and stop at a page, instead of looking
    # up each holding's filer's latest filing (36 instead of 4 ms at 5,000 holders).
    is_latest = models.BooleanField(default=False)
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_of_report", "-filed_on", "-id"]
        indexes = [
            # The latest filing of a filer, and a filer's filing for a given period.
            models.Index(
                fields=["filer", "-period_of_report", "-filed_on"], name="filing_filer_period_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.accession_number} {self.form_type} {self.period_of_report}"


class Security(models.Model):
    cusip = models.CharField(max_length=9, unique=True)
    issuer_name = models.CharField(max_length=255)
    title_of_class = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name_plural = "securities"

    def __str__(self) -> str:
        return f"{self.issuer_name} {self.title_of_class} ({self.cusip})"


class Holding(models.Model):
    """One position of a filing: the rows of one CUSIP, put/call and SH/PRN type summed."""

    class AmountType(models.TextChoices):
        SHARES = "SH", "shares"
        PRINCIPAL = "PRN", "principal amount"

    class PutCall(models.TextChoices):
        NONE = "", "none"
        PUT = "Put", "put"
        CALL = "Call", "call"

    # No index of their own: the composite indexes below start with each (every index is
    # written on each of the millions of inserts).
    filing = models.ForeignKey(
        Filing, on_delete=models.CASCADE, related_name="holdings", db_index=False
    )
    security = models.ForeignKey(
        Security, on_delete=models.PROTECT, related_name="holdings", db_index=False
    )
    value = models.BigIntegerField(help_text="US dollars")
    shares = models.BigIntegerField(help_text="shares or principal amount (see sh_prn_type)")
    sh_prn_type = models.CharField(max_length=3, choices=AmountType.choices, default="SH")
    put_call = models.CharField(max_length=4, choices=PutCall.choices, blank=True, default="")
    row_count = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["filing", "security", "put_call", "sh_prn_type"],
                name="holding_one_position_per_filing",
            )
        ]
        indexes = [
            # A filing's holdings by value, largest first.
            models.Index(fields=["filing", "-value"], name="holding_filing_value_idx"),
            # The holders of a security, largest first (a page is the first rows), and their
            # count (the index alone: the filing is in it).
            models.Index(
                fields=["security", "-value", "filing"], name="holding_security_value_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.security_id} in {self.filing_id}: ${self.value}"


class IngestFiling(models.Model):
    """One 13F filing of an EDGAR quarter index, on its way into the database (ingest_13f).

    queued -> fetching (claimed by a worker) -> stored | failed. A ``fetching`` row whose
    claim is older than ``EDGAR_INGEST_STALE_SECONDS`` belongs to a worker that died.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        FETCHING = "fetching", "fetching"
        STORED = "stored", "stored"
        FAILED = "failed", "failed"

    accession_number = models.CharField(max_length=20, unique=True)
    quarter = models.CharField(max_length=6, help_text="e.g. 2020Q1")
    cik = models.PositiveBigIntegerField()
    company_name = models.CharField(max_length=255)
    form_type = models.CharField(max_length=16)
    date_filed = models.DateField()
    path = models.CharField(max_length=255, help_text="below EDGAR_BASE_URL, as in master.idx")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    reason = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["quarter", "date_filed", "accession_number"]
        indexes = [
            # Counts per status of a quarter, and the rows still to do.
            models.Index(fields=["quarter", "status"], name="ingest_quarter_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.accession_number} {self.form_type} {self.status}"
