"""What every page shows of the operator: its name and contact, and where its terms and privacy notice are."""

from django.conf import settings


def site(request) -> dict:
    phone = settings.SITE_CONTACT_PHONE
    return {
        "site": {
            "operator_name": settings.SITE_OPERATOR_NAME,
            "contact_email": settings.SITE_CONTACT_EMAIL,
            "contact_phone": phone,
            "contact_phone_link": "".join(c for c in phone if c.isdigit() or c == "+"),
            "terms_url": settings.SITE_TERMS_URL,
            "privacy_url": settings.SITE_PRIVACY_URL,
        }
    }
