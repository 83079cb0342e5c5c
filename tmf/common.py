"""The TM Forum wire conventions shared by every /tmf-api/ resource: the same provider authentication, tenancy,
throttling and error codes as /api/v1/, with TMF's shapes: `id`/`href`/`@type` on every resource, filtering by
attribute (`?state=completed`, `?productOrderItem.state=inProgress`), `fields=` selection, `offset`/`limit` with
`X-Total-Count` and `X-Result-Count`, and errors as TMF's Error (`code`, `reason`, `message`, `status`)."""

from django.conf import settings
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from cos.api.exceptions import exception_handler as cos_exception_handler
from cos.api.parsers import SafeJSONParser
from cos.api.providers import IsServiceProvider
from cos.errors import ApplicationError
from tmf.conformance import required_of

BASES = {
    "productCatalogManagement": "/tmf-api/productCatalogManagement/v4",
    "productOfferingQualification": "/tmf-api/productOfferingQualification/v4",
    "productOrderingManagement": "/tmf-api/productOrderingManagement/v4",
    "serviceInventory": "/tmf-api/serviceInventory/v4",
    "customerBillManagement": "/tmf-api/customerBillManagement/v4",
}
PAGING = ("fields", "offset", "limit")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class TmfError(ApplicationError):
    """A refusal in TMF's terms; `code` as /api/v1/ would give it."""


def href(api: str, resource: str, pk) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{BASES[api]}/{resource}/{pk}"


def iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def money(amount, currency: str) -> dict:
    return {"unit": currency, "value": float(amount)}


def tmf_exception_handler(exc, context):
    """/api/v1/'s error, reshaped as TMF's Error: the same stable code, the message as the reason."""
    response = cos_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data if isinstance(response.data, dict) else {"message": str(response.data)}
    body = {
        "code": str(data.get("code", "error")),
        "reason": str(data.get("message") or data.get("detail") or "The request was refused."),
        "status": str(response.status_code),
        "@type": "Error",
    }
    details = {key: value for key, value in data.items() if key not in ("code", "message", "detail")}
    if details:
        body["message"] = "; ".join(f"{k}: {v}" for k, v in details.get("errors", details).items())
        body.update({k: v for k, v in details.items() if k in ("errors", "codes", "problems")})
    response.data = body
    return response


class TmfView(APIView):
    """A provider's view of one TMF API."""

    api = ""
    schema = None  # documented by TM Forum's own specification (tmf/specs/, served at /tmf-api/specs/)
    permission_classes = [IsServiceProvider]
    parser_classes = [SafeJSONParser]

    def get_exception_handler(self):
        return tmf_exception_handler


def _value_at(item, path: list[str]):
    """The values at a dotted path (through lists), as text."""
    if not path:
        if isinstance(item, bool):
            return ["true" if item else "false"]
        return [] if isinstance(item, dict | list) else [str(item)]
    if isinstance(item, list):
        return [v for element in item for v in _value_at(element, path)]
    if isinstance(item, dict) and path[0] in item:
        return _value_at(item[path[0]], path[1:])
    return []


def _int_param(request, name: str, default: int, most: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit():
        raise TmfError(f"{name} must be a whole number of 0 or more.", code="invalid")
    return min(int(raw), most)


def select_fields(item: dict, fields: str | None) -> dict:
    """`fields=state,orderDate`: those, with id, href, @type and what the specification requires always."""
    if not fields:
        return item
    wanted = {f.strip() for f in fields.split(",") if f.strip()} | {"id", "href", "@type"}
    wanted |= required_of(item.get("@type", ""))  # what the specification requires of the resource stays
    return {key: value for key, value in item.items() if key in wanted}


def tmf_pages(request, sources) -> Response:
    """tmf_list over `sources` [(count, render(offset, limit) -> list of dicts)], one after the other, rendering only
    the page asked for when no attribute filter is given (a long list is not built to show a hundred)."""
    if any(name not in PAGING for name in request.query_params):
        return tmf_list(request, [item for count, render in sources for item in render(0, count)])
    offset = _int_param(request, "offset", 0, 10**9)
    limit = _int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    total = sum(count for count, _ in sources)
    page, skip = [], offset
    for count, render in sources:
        if skip >= count:
            skip -= count
            continue
        page += render(skip, min(count - skip, limit - len(page)))
        skip = 0
        if len(page) >= limit:
            break
    page = [select_fields(item, request.query_params.get("fields")) for item in page]
    response = Response(page, status=status.HTTP_200_OK)
    response["X-Total-Count"] = str(total)
    response["X-Result-Count"] = str(len(page))
    return response


def tmf_list(request, items: list[dict]) -> Response:
    """Filter by attribute (each query parameter but fields/offset/limit: its value, or one of comma-separated
    values), select fields, page; the counts in X-Total-Count and X-Result-Count."""
    for name, raw in request.query_params.items():
        if name in PAGING:
            continue
        accepted = set(raw.split(","))
        path = name.split(".")
        items = [item for item in items if accepted & set(_value_at(item, path))]
    offset = _int_param(request, "offset", 0, 10**9)
    limit = _int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    page = [select_fields(item, request.query_params.get("fields")) for item in items[offset : offset + limit]]
    response = Response(page, status=status.HTTP_200_OK)
    response["X-Total-Count"] = str(len(items))
    response["X-Result-Count"] = str(len(page))
    return response


def tmf_one(request, item: dict) -> Response:
    return Response(select_fields(item, request.query_params.get("fields")))
