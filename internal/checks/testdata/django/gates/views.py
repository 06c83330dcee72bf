# views.py
from django.http import JsonResponse

from gates.models import Job


def health(request):
    return JsonResponse({"status": "ok", "queued": Job.objects.count()})
