"""A tiny Celery app for the celery check's tests.

It defines no task of its own: the check's round trip uses the built-in
celery.accumulate. The broker comes from HEALTHD_CELERY_BROKER; results go
back over rpc://, as the round trip needs.
"""
import os

from celery import Celery

app = Celery("healthd_test", broker=os.environ["HEALTHD_CELERY_BROKER"], backend="rpc://")
app.conf.update(
    broker_connection_retry_on_startup=False,
    broker_connection_max_retries=0,
    worker_hijack_root_logger=False,
)
