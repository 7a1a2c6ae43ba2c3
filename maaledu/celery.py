"""The Celery application: reads ``CELERY_*`` settings and finds each app's ``tasks.py``.

The request id travels with each task: the publisher puts it in a message header, and the worker
sets it for the task's run, so a task's log lines (and Sentry events) carry the id of the
request that enqueued it.
"""

import os

from bson import ObjectId
from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun
from kombu.utils.json import register_type

from common.logging import request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maaledu.settings.production")

# Task arguments are primary keys, ObjectIds on MongoDB: they travel as tagged JSON strings and
# arrive as ObjectIds again.
register_type(ObjectId, "objectid", str, ObjectId)

app = Celery("maaledu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

REQUEST_ID_HEADER = "request_id"
_tokens = {}


@before_task_publish.connect(dispatch_uid="maaledu.send_request_id")
def send_request_id(headers=None, **kwargs) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id != "-":
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@task_prerun.connect(dispatch_uid="maaledu.receive_request_id")
def receive_request_id(task_id=None, task=None, **kwargs) -> None:
    # A worker merges custom headers into the request; Task.apply keeps them under ``headers``.
    request = task.request
    request_id = getattr(request, REQUEST_ID_HEADER, None) or (request.headers or {}).get(
        REQUEST_ID_HEADER
    )
    if request_id:
        _tokens[task_id] = request_id_var.set(str(request_id)[:64])


@task_postrun.connect(dispatch_uid="maaledu.forget_request_id")
def forget_request_id(task_id=None, **kwargs) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)
