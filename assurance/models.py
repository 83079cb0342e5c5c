"""The board's alerts: when a metric of a scope crosses into red, once per crossing."""

from django.db import models
from django.db.models import Q


class BoardAlert(models.Model):
    """A metric of a scope in red, from when the board's check found it so until it left red again. The staff are
    told when it opens; while one is open for a metric and scope, nobody is told again."""

    metric = models.CharField(max_length=40)
    scope = models.CharField(max_length=40, help_text="network, marketplace:<id> or provider:<id>")
    value = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    shown = models.CharField(max_length=40)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    notified = models.PositiveSmallIntegerField(default=0, help_text="Staff members told.")

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "scope"], condition=Q(closed_at__isnull=True), name="one_open_alert"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} red for {self.scope} since {self.opened_at:%Y-%m-%d %H:%M}"
