from celery import shared_task


@shared_task
def board_check_task() -> dict:
    """Celery beat: the board's alerts (assurance.alerts.board_check)."""
    from assurance.alerts import board_check

    return board_check()
