# Before healthd, django-health-check 4.x: the checks are listed in urls.py
# (no INSTALLED_APPS sub-apps). healthd-after.yaml replaces the same checks;
# docs/migrating-from-django-health-check.md maps each one.
from django.urls import path
from health_check.views import HealthCheckView

urlpatterns = [
    path(
        "ht/",
        HealthCheckView.as_view(
            checks=[
                "health_check.Database",                      # type: postgres / mysql
                "health_check.Cache",                         # type: redis / memcached
                "health_check.Storage",                       # type: storage / s3
                "health_check.contrib.psutil.Disk",           # type: disk
                "health_check.contrib.psutil.Memory",         # type: memory
                "health_check.contrib.redis.Redis",           # type: redis
                "health_check.contrib.rabbitmq.RabbitMQ",     # type: rabbitmq
                "health_check.contrib.celery.Ping",           # type: celery
            ],
        ),
    ),
]
