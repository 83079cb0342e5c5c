"""The gateway's webhook endpoint: POST /billing/stripe/webhook/ (no login, no CSRF: the signature is the check)."""

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.gateways.base import SignatureInvalid
from billing.webhooks import webhook_receive

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """200 for every verified event (applied, replayed, unmatched or not handled); 400 and nothing changed for a
    body whose signature does not verify."""
    signature = request.headers.get("Stripe-Signature", "")
    if not signature:
        return JsonResponse(
            {"error": "missing_signature", "detail": "The Stripe-Signature header is missing."}, status=400
        )
    try:
        outcome, row = webhook_receive(gateway_name="stripe", payload=request.body, signature=signature)
    except SignatureInvalid as refused:
        logger.warning("Webhook refused: %s", refused.message)
        return JsonResponse({"error": refused.code, "detail": refused.message}, status=400)
    return JsonResponse({"received": row.event_id, "outcome": outcome})
