from django.contrib import admin

from assurance.models import BoardAlert


@admin.register(BoardAlert)
class BoardAlertAdmin(admin.ModelAdmin):
    """The board's alerts, as the check opened and closed them: read-only."""

    list_display = ("metric", "scope", "shown", "opened_at", "closed_at", "notified")
    list_filter = ("metric", "scope")
    date_hierarchy = "opened_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
