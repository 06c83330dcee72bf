from django.db import models


class Job(models.Model):
    """A queued job: the one model whose migration gates readiness."""

    name = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)
