"""Messages to subscribers: e-mail and SMS, each a delivery record (cos.Message) the admin and the portal show.

- `notify(customer=..., kind=..., key=..., context=...)` writes one Message per channel the customer wants, its
  subject and body rendered now in the customer's language, and publishes `message.queued`, all in the caller's
  transaction: a rolled-back cause sends nothing, and the same cause (kind, key) notified again sends nothing more.
- The event's handler hands the message to `message_deliver` once that commits. It takes the message under a
  short lock (a lease: `sending_until`), makes the attachments and sends outside any transaction, then records
  the outcome under the lock again: sent (never sent again), skipped (nothing to send it to) or failed, tried again
  after a wait that doubles each time (EVENTS_RETRY_BASE_SECONDS up to EVENTS_RETRY_MAX_SECONDS) and given up
  (dead) after EVENTS_MAX_ATTEMPTS tries.
- `messages_retry_due` (Celery beat, "messages-retry") sends what is due: failed messages whose wait is over, and
  queued ones whose hand-over was lost (the broker was down) or whose sender died while sending.
- `message_requeue` is the admin's "Send again" for a failed, given-up or skipped message.

Templates, in templates/messages/<language>/ (Django templates, not HTML-escaped):
<kind>.subject.txt and <kind>.txt (the e-mail), and <kind>.sms.txt (optional: a kind without one sends no SMS).
They are rendered under translation.override(language), so dates and numbers are written the customer's way.

Attachments are made when the message is sent, by providers higher apps register:
`@notifications.attachment("invoice_pdf") def invoice_pdf(ref) -> (filename, content, mimetype)`.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from email.utils import parseaddr
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.db import IntegrityError, transaction
from django.template import Context, Engine, TemplateDoesNotExist
from django.template.backends.django import get_installed_libraries
from django.utils import timezone, translation

from cos import events
from cos.choices import UNSENT_MESSAGE_STATUSES, MessageChannel, MessageStatus
from cos.fsm import transition_apply
from cos.models import Customer, Message
from cos.sms import phone_e164, sms_send

logger = logging.getLogger(__name__)

QUEUED = "message.queued"

_attachment_providers: dict[str, Callable] = {}


def attachment(kind: str) -> Callable:
    """Register `fn(ref) -> (filename, content_bytes, mimetype)` as the maker of attachments of `kind`."""

    def register(fn: Callable) -> Callable:
        _attachment_providers[kind] = fn
        return fn

    return register


def attachment_make(kind: str, ref) -> tuple[str, bytes, str]:
    """The attachment `{"kind": kind, "ref": ref}` of a message, made now. Raises LookupError for an unknown kind."""
    try:
        provider = _attachment_providers[kind]
    except KeyError:
        known = ", ".join(sorted(_attachment_providers))
        raise LookupError(f"no attachment provider for {kind!r} (known: {known})") from None
    return provider(ref)


# Messages are plain text: rendered without HTML escaping, from the same template directories as the pages.
_engine = Engine(
    dirs=[str(path) for path in settings.TEMPLATES[0]["DIRS"]],
    app_dirs=True,
    autoescape=False,
    libraries=get_installed_libraries(),
    builtins=["django.templatetags.i18n", "django.templatetags.l10n"],
)


def _template(language: str, kind: str, suffix: str):
    names = [f"messages/{language}/{kind}{suffix}"]
    if language != settings.COS_DEFAULT_LANGUAGE:
        names.append(f"messages/{settings.COS_DEFAULT_LANGUAGE}/{kind}{suffix}")
    try:
        return _engine.select_template(names)
    except TemplateDoesNotExist:
        return None


def message_render(
    *, kind: str, language: str, channel: str, context: dict, time_zone: str | None = None
) -> tuple[str, str] | None:
    """(subject, body) of a message of `kind` in `language` (the default language's template when that language has
    none), its times in `time_zone` (default SITE_TIME_ZONE); None for an SMS of a kind without an SMS template. A
    kind without e-mail templates is a programming error (TemplateDoesNotExist)."""
    full = {
        "site": {
            "operator_name": settings.SITE_OPERATOR_NAME,
            "contact_email": settings.SITE_CONTACT_EMAIL,
            "contact_phone": settings.SITE_CONTACT_PHONE,
        },
        **context,
    }
    with translation.override(language), timezone.override(ZoneInfo(time_zone or settings.SITE_TIME_ZONE)):
        if channel == MessageChannel.SMS:
            body = _template(language, kind, ".sms.txt")
            return None if body is None else ("", body.render(Context(full)).strip())
        subject, body = _template(language, kind, ".subject.txt"), _template(language, kind, ".txt")
        if subject is None or body is None:
            raise TemplateDoesNotExist(f"messages/{language}/{kind}.subject.txt and {kind}.txt")
        one_line = " ".join(subject.render(Context(full)).split())
        return one_line[:255], body.render(Context(full)).strip() + "\n"


def notify(
    *,
    customer: Customer,
    kind: str,
    key: str,
    context: dict,
    attachments: Iterable[dict] = (),
    mandatory: bool = False,
    email: str | None = None,
    time_zone: str | None = None,
) -> list[Message]:
    """Tell `customer` about `kind` (one of cos.choices.MessageKind) for the cause `key` (e.g. "invoice-12"), on each
    channel they want: e-mail if notify_by_email (or `mandatory`), SMS if notify_by_sms and the kind has an SMS
    template. Runs in the caller's transaction; the messages are sent after it commits.

    `context` is what the templates show (`customer` and `site` are added); `attachments` ({"kind": ..., "ref":
    ...}, made when sent) go with the e-mail only; `email` sends the e-mail to another address than the customer's
    (an invoice e-mail address); times are written in `time_zone` (the marketplace's; default SITE_TIME_ZONE). A
    message without an address is recorded as skipped, with why.

    Returns the messages written now: none when this cause was notified before."""
    language = customer.language or settings.COS_DEFAULT_LANGUAGE
    channels = []
    if customer.notify_by_email or mandatory:
        channels.append(MessageChannel.EMAIL)
    if customer.notify_by_sms:
        channels.append(MessageChannel.SMS)
    existing = set(
        Message.objects.filter(customer=customer, kind=kind, key=key, channel__in=channels).values_list(
            "channel", flat=True
        )
    )
    context = {"customer": customer, **context}
    due = timezone.now() + timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
    written = []
    for channel in channels:
        if channel in existing:
            continue
        rendered = message_render(kind=kind, language=language, channel=channel, context=context, time_zone=time_zone)
        if rendered is None:
            continue
        subject, body = rendered
        if channel == MessageChannel.EMAIL:
            to, missing = (email or customer.email or "").strip(), "no e-mail address"
            files = [{"kind": item["kind"], "ref": item["ref"]} for item in attachments]
        else:
            to, missing = phone_e164(customer.phone, country=customer.billing_country) or "", ""
            missing = (
                "" if to else ("no phone number" if not customer.phone else f"not a phone number: {customer.phone}")
            )
            files = []
        message = Message(
            customer=customer,
            kind=kind,
            key=key,
            channel=channel,
            to=to,
            language=language,
            subject=subject,
            body=body,
            attachments=files,
            next_attempt_at=due,
        )
        if not to:
            transition_apply(message, "skip", why=missing, reason=missing)
        try:
            with transaction.atomic():
                message.save()
                if message.status == MessageStatus.QUEUED:
                    events.publish(QUEUED, message_id=message.pk)
        except IntegrityError:  # the same cause notified at the same moment by another transaction
            continue
        written.append(message)
    return written


def staff_notify(*, users, kind: str, key: str, context: dict) -> list[Message]:
    """Tell members of the operator's staff about `kind` for the cause `key`, by e-mail in the default language (as
    `notify` does for a subscriber: once per cause, sent after the caller's transaction commits)."""
    language = settings.COS_DEFAULT_LANGUAGE
    due = timezone.now() + timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
    written = []
    for user in users:
        if Message.objects.filter(user=user, kind=kind, key=key, channel=MessageChannel.EMAIL).exists():
            continue
        subject, body = message_render(
            kind=kind, language=language, channel=MessageChannel.EMAIL, context={"user": user, **context}
        )
        to = (user.email or "").strip()
        message = Message(
            user=user,
            kind=kind,
            key=key,
            channel=MessageChannel.EMAIL,
            to=to,
            language=language,
            subject=subject,
            body=body,
            next_attempt_at=due,
        )
        if not to:
            transition_apply(message, "skip", why="no e-mail address", reason="no e-mail address")
        try:
            with transaction.atomic():
                message.save()
                if message.status == MessageStatus.QUEUED:
                    events.publish(QUEUED, message_id=message.pk)
        except IntegrityError:
            continue
        written.append(message)
    return written


def messages_send(message_ids: list[int]) -> None:
    """Hand messages to Celery to be sent (after commit). A lost hand-over loses nothing: the retry job sends them."""
    from cos.tasks import message_deliver_task

    for message_id in message_ids:
        try:
            message_deliver_task.delay(message_id)
        except Exception:  # noqa: BLE001 - the message stays queued and messages_retry_due sends it
            logger.warning("could not hand message %s to the broker; the retry job will send it", message_id)


def messages_send_after_commit(message_ids: list[int]) -> None:
    transaction.on_commit(partial(messages_send, list(message_ids)), robust=True)


def _retry_wait(attempts: int) -> timedelta:
    seconds = settings.EVENTS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.EVENTS_RETRY_MAX_SECONDS))


def _claim(message_id: int, now) -> Message | None:
    """Take the message for sending: None when it is sent, skipped, given up, or another sender has it."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status not in UNSENT_MESSAGE_STATUSES:
            return None
        if message.sending_until and message.sending_until > now:
            return None
        message.sending_until = now + timedelta(seconds=settings.MESSAGES_SEND_LEASE_SECONDS)
        message.save(update_fields=["sending_until", "updated_at"])
        return message


def _send(message: Message) -> str:
    """Send it (I/O, outside any transaction); the provider's id of it. Raises when it was not taken."""
    if message.channel == MessageChannel.SMS:
        return sms_send(to=message.to, body=message.body)
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]  # "COS fiber <support@cos.local>": support@cos.local
    message_id = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail = EmailMessage(
        message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.to], headers={"Message-ID": message_id}
    )
    for item in message.attachments:
        mail.attach(*attachment_make(item["kind"], item["ref"]))
    if mail.send(fail_silently=False) != 1:
        raise RuntimeError("the mail backend did not take the message")
    return message_id


def message_deliver(*, message_id: int, now=None) -> Message | None:
    """Send one message once and record what happened. Safe to call any number of times: a message sent, skipped
    or given up, or being sent by another, is left alone. Call it outside any transaction (it sends in between)."""
    now = now or timezone.now()
    claimed = _claim(message_id, now)
    if claimed is None:
        return Message.objects.filter(pk=message_id).first()
    error, provider_id = "", ""
    if claimed.to:
        try:
            provider_id = _send(claimed)
        except Exception as exc:  # noqa: BLE001 - any failure to send is recorded on the message and tried again
            error = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message_id)
        if message.status not in UNSENT_MESSAGE_STATUSES:
            return message
        if not claimed.to:
            transition_apply(message, "skip", why="no address", reason="no address")
        elif not error:
            transition_apply(message, "mark_sent", at=timezone.now(), provider_message_id=provider_id[:200])
        elif message.attempts + 1 >= settings.EVENTS_MAX_ATTEMPTS:
            logger.warning(
                "message %s to %s given up after %s tries: %s", message.pk, message.to, message.attempts + 1, error
            )
            transition_apply(message, "give_up", error=error, reason="not sent: given up")
        else:
            logger.warning(
                "message %s to %s not sent (try %s): %s", message.pk, message.to, message.attempts + 1, error
            )
            retry_at = now + _retry_wait(message.attempts + 1)
            transition_apply(message, "fail", error=error, retry_at=retry_at, reason="not sent: tried again later")
        message.save()
    return message


def messages_retry_due(*, now=None, limit: int = 500) -> int:
    """Send the messages that are due: failed ones whose wait is over, queued ones whose hand-over was lost, any
    whose sender died while sending (its lease is over). Returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Message.objects.filter(status__in=UNSENT_MESSAGE_STATUSES, next_attempt_at__lte=now)
            .exclude(sending_until__gt=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not due:
            return 0
        # Pushed out so that the next run does not send them again while this delivery is on its way; a failed
        # delivery sets the real next try.
        later = now + timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
        Message.objects.filter(pk__in=due, status__in=UNSENT_MESSAGE_STATUSES).update(next_attempt_at=later)
        messages_send_after_commit(due)
    return len(due)


def message_requeue(*, message_id: int, actor=None) -> Message:
    """An operator sends a failed, given-up or skipped message again now. The phone number is read again from the
    customer (it may have been corrected); so is the e-mail address, unless the message went to another address
    than the customer's (an invoice e-mail address)."""
    with transaction.atomic():
        message = Message.objects.select_for_update(of=("self",)).select_related("customer", "user").get(pk=message_id)
        recipient = message.customer or message.user  # a subscriber, or a member of the staff (e-mail only)
        transition_apply(message, "requeue", at=timezone.now(), by=actor, reason="sent again by an operator")
        if message.channel == MessageChannel.SMS:
            message.to = phone_e164(recipient.phone, country=recipient.billing_country) or ""
        elif not message.to or message.skip_reason:
            message.to = recipient.email
        message.skip_reason = ""
        message.save()
        events.publish(QUEUED, message_id=message.pk)
    return message


@events.handler(QUEUED)
def message_send_when_queued(event) -> None:
    """`message.queued`: send it once the handler's transaction commits (never inside it)."""
    messages_send_after_commit([event.payload["message_id"]])
