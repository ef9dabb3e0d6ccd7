"""Request counters for the data-API quota when no Redis is configured (see services.py)."""

from django.db import models


class QuotaBucket(models.Model):
    """Requests of one caller (``key``) in one time slice starting at ``bucket`` (Unix seconds)."""

    key = models.CharField(max_length=128)
    bucket = models.BigIntegerField(db_index=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "bucket"], name="quota_bucket_one_per_slice")
        ]

    def __str__(self) -> str:
        return f"{self.key} @ {self.bucket}: {self.count}"
