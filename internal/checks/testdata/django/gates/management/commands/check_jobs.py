"""django-health-check's MyHealthCheckBackend, ported to a healthd exec
check: a management command that speaks the Nagios plugin protocol.

    python3 manage.py check_jobs --warn 100 --crit 1000
"""
import sys

from django.core.management.base import BaseCommand

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


class Command(BaseCommand):
    help = "Nagios-protocol check: how many jobs are queued"

    def add_arguments(self, parser):
        parser.add_argument("--warn", type=int, default=100)
        parser.add_argument("--crit", type=int, default=1000)

    def handle(self, *args, warn, crit, **options):
        try:
            from gates.models import Job

            queued = Job.objects.count()
        except Exception as exc:  # the database is down, the table missing…
            self.stdout.write(f"UNKNOWN - cannot count jobs: {type(exc).__name__}")
            sys.exit(UNKNOWN)
        perf = f"queued={queued};{warn};{crit};0"
        if queued > crit:
            self.stdout.write(f"CRITICAL - {queued} jobs queued | {perf}")
            sys.exit(CRITICAL)
        if queued > warn:
            self.stdout.write(f"WARNING - {queued} jobs queued | {perf}")
            sys.exit(WARNING)
        self.stdout.write(f"OK - {queued} jobs queued | {perf}")
