# A Django project with django-health-check 3.x configured exactly as the
# migration guide's "before" example (docs/examples/django-health-check/).
import os
import sys
from urllib.parse import urlparse

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "examples", "django-health-check")
sys.path.insert(0, os.path.abspath(EXAMPLES))

from settings_before import *  # noqa: E402,F401,F403

SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls_before"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
] + HEALTH_CHECK_APPS  # noqa: F405
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
STATIC_URL = "/static/"
USE_TZ = True

db = urlparse(os.environ["DATABASE_URL"])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db.path.lstrip("/"),
        "USER": db.username or "",
        "PASSWORD": db.password or "",
        "HOST": db.hostname,
        "PORT": db.port or 5432,
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": os.environ["MEMCACHED_LOCATION"],
    }
}
MEDIA_ROOT = os.environ["MEDIA_ROOT"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
