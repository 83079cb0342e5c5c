"""The application's error family: a stable machine code and a human message.

Services raise these; the API maps them to HTTP responses in one exception handler and the
admin shows them as messages.
"""


class ApplicationError(Exception):
    """A refused business action, with a stable code and a message for people."""

    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra or {}


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404


class Conflict(ApplicationError):
    """The action does not fit the object's current state."""

    code = "conflict"
    http_status = 409


class TransitionRefused(ApplicationError):
    """An FSM transition that is not allowed from the object's current state."""

    code = "transition_not_allowed"
    http_status = 409
