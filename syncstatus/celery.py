import os

from celery import Celery
from celery.signals import task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncstatus.settings")

app = Celery("syncstatus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _drop_unusable_connections(task, **kwargs) -> None:
    """A worker keeps its database connection from task to task (settings'
    CELERY_DB_REUSE_MAX), so, as Django does before each request, drop one
    that broke (a database restart) or outlived CONN_MAX_AGE. Not for a task
    run in-process: it runs inside its caller's connection and transaction."""
    if not task.request.is_eager:
        close_old_connections()
