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


class WeekReading(models.Model):
    """A metric of a scope as it read at the end of a closed week (a point of the board's trend). Computed once,
    when the board or its check first needs it, then kept: a closed week's figures are as of its end, so they do
    not change. The current week is always computed live. The colour is judged again on reading, against the
    operator's targets of the day."""

    metric = models.CharField(max_length=40)
    scope = models.CharField(max_length=60, help_text="network, marketplace:<id>, provider:<id> or both")
    week_end = models.DateTimeField(help_text="The end of the week's last local day (Sunday).")
    name = models.CharField(max_length=80)
    unit = models.CharField(max_length=10)
    value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    judged = models.DecimalField(
        max_digits=20, decimal_places=6, null=True, blank=True, help_text="What the colour is judged on."
    )
    numerator = models.DecimalField(max_digits=20, decimal_places=6)
    denominator = models.DecimalField(max_digits=20, decimal_places=6)
    extra = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["scope", "metric", "week_end"]
        constraints = [models.UniqueConstraint(fields=["metric", "scope", "week_end"], name="one_reading_a_week")]

    def __str__(self) -> str:
        return f"{self.metric} for {self.scope}, week ending {self.week_end:%Y-%m-%d}"
