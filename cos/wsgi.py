"""WSGI entry point (gunicorn cos.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cos.settings")
application = get_wsgi_application()
