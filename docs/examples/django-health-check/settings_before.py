# Before healthd: django-health-check 3.x in a Django project's settings.py
# (docs/migrating-from-django-health-check.md). test/django runs a real
# Django project with exactly these settings beside healthd with
# docs/examples/healthd-after.yaml, and compares the two JSON answers.
import os

HEALTH_CHECK_APPS = [
    "health_check",                    # the view at /ht/
    "health_check.db",                 # DatabaseBackend
    "health_check.cache",              # Cache backend: default
    "health_check.storage",            # DefaultFileStorageHealthCheck
    "health_check.contrib.migrations", # MigrationsHealthCheck
    "health_check.contrib.psutil",     # DiskUsage, MemoryUsage
    "health_check.contrib.redis",      # RedisHealthCheck
    "health_check.contrib.rabbitmq",   # RabbitMQHealthCheck
]

HEALTH_CHECK = {
    "DISK_USAGE_MAX": 90,  # percent
    "MEMORY_MIN": 100,     # MB
}

REDIS_URL = os.environ["REDIS_URL"]
BROKER_URL = os.environ["BROKER_URL"]
