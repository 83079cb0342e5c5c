"""Logins and logs in production: weak passwords are refused, a refused request is one line in the log."""

import io
import logging
import threading

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory

from tests.cos.factories import UserFactory


@pytest.mark.parametrize(("password", "reason"), [("12345678", "entirely numeric"), ("password", "too common")])
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    with pytest.raises(ValidationError) as refused:
        validate_password(password)
    assert any(reason in message for message in refused.value.messages)


@pytest.mark.django_db
def test_a_sound_password_is_taken():
    validate_password("fiber-on-the-fjord-42", user=UserFactory.build(username="anna"))


def test_a_refused_request_is_logged_on_one_line_without_its_traceback():
    # given: the console handler as configured in settings
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler))
    stream = io.StringIO()
    original, handler.stream = handler.stream, stream
    # only this test's records: another thread (a worker left by an earlier test) may log meanwhile
    this_thread = logging.Filter()
    this_thread.filter = lambda record: record.thread == threading.get_ident()
    handler.addFilter(this_thread)
    try:
        request = RequestFactory().get("/admin/billing/invoice/")
        try:
            raise PermissionDenied("not for you")
        except PermissionDenied:
            # when: Django's request logger reports the 403 with the exception attached
            logging.getLogger("django.request").warning(
                "Forbidden (Permission denied): %s",
                request.path,
                exc_info=True,
                extra={"status_code": 403, "request": request},
            )
    finally:
        handler.stream = original
        handler.removeFilter(this_thread)
    # then
    lines = [line for line in stream.getvalue().splitlines() if line]
    assert lines
    assert all("Forbidden (Permission denied): /admin/billing/invoice/" in line for line in lines)
    assert "Traceback" not in stream.getvalue()
