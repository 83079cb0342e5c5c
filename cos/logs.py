"""Logging filters: a refused request (403, 404 and other 4xx) is one line in the log, not a traceback."""

import logging


class OneLineRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.name.startswith("django.request") and status is not None and 400 <= status < 500:
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True
