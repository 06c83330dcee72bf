# Before healthd: the URL of django-health-check 3.x in urls.py.
from django.urls import include, path

urlpatterns = [
    path("ht/", include("health_check.urls")),
]
