from django.urls import path

from gates import views

# The health view of docs/custom-checks.md, at the URL its http check asks.
urlpatterns = [path("internal/health", views.health)]
