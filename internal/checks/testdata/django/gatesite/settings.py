"""Development settings: the database is the one the test creates
(HEALTHD_DJANGO_DB) on the machine's PostgreSQL. DEBUG is on and nothing is
hardened, so `manage.py check --deploy` has warnings to give."""
import os

SECRET_KEY = "django-insecure-only-for-healthd-tests"
DEBUG = True
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["gates"]
MIDDLEWARE = []
ROOT_URLCONF = "gatesite.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["HEALTHD_DJANGO_DB"],
        "USER": os.environ.get("HEALTHD_DJANGO_USER", "postgres"),
        "PASSWORD": os.environ.get("HEALTHD_DJANGO_PASSWORD", ""),
        "HOST": os.environ.get("HEALTHD_DJANGO_HOST", "127.0.0.1"),
        "PORT": os.environ.get("HEALTHD_DJANGO_PORT", "5432"),
    }
}
