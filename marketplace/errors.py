"""Errors of the marketplace (see cos.errors for the family)."""

from cos.errors import ApplicationError


class OrderInvalid(ApplicationError):
    """An order request failed validation; `problems` lists every reason with its code."""

    code = "order_invalid"
    http_status = 400

    def __init__(self, problems):
        self.problems = problems
        first = problems[0]
        super().__init__(
            first.message if len(problems) == 1 else f"{first.message} (and {len(problems) - 1} more problem(s))",
            code=first.code,
            extra={"problems": [{"code": p.code, "message": p.message, "product": p.product_id} for p in problems]},
        )


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    http_status = 409
