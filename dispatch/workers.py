"""Planning jobs on Celery workers: the broker-side executor the API hands jobs to, and the
task `dispatch worker` runs. A job's state and progress stay in the database (dispatch.jobs),
so any API process can report on a job whichever worker runs it."""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from celery import Celery

from dispatch import db, jobs
from dispatch.settings import Settings

log = logging.getLogger(__name__)
TASK = "dispatch.plan_job"
# A broker that does not answer must fail a plan request in seconds (503), not hang it.
BROKER_TIMEOUT_SECONDS = 3


def celery_app(settings: Settings) -> Celery:
    """The Celery app of ``settings.broker_url``, with the planning task registered."""
    if not settings.broker_url:
        raise ValueError("DISPATCH_BROKER_URL is not set: planning runs in the API process")
    app = Celery("dispatch", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.broker_queue,
        # Acknowledged only once run, so the broker delivers again a job whose worker died;
        # jobs.run claims a queued job once, so a second delivery never runs a job twice (a
        # job left running by a dead worker is not taken over yet: that needs a lease).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_timeout=BROKER_TIMEOUT_SECONDS,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_timeout": BROKER_TIMEOUT_SECONDS,
        },
        worker_hijack_root_logger=False,
    )
    engines: dict[str, sa.Engine] = {}
    lock = threading.Lock()

    def engine() -> sa.Engine:
        # Made in the worker process on its first job: an engine must not cross a fork.
        with lock:
            if "engine" not in engines:
                engines["engine"] = db.make_engine(settings.database_url)
            return engines["engine"]

    @app.task(name=TASK)
    def plan_job(job_id: int) -> None:
        jobs.run(engine(), job_id, settings)

    return app


class CeleryExecutor:
    """Hands each job to the broker; `dispatch worker` processes run them."""

    def __init__(self, engine: sa.Engine, settings: Settings) -> None:
        self.app = celery_app(settings)

    def submit(self, job_id: int) -> None:
        # No retries here: the API turns a failure into 503 with Retry-After at once.
        self.app.send_task(TASK, args=[job_id], retry=False)

    def shutdown(self) -> None:
        self.app.close()


def executor_for(settings: Settings) -> jobs.ExecutorFactory:
    """Celery when a broker is configured, else planning in the API process."""
    return CeleryExecutor if settings.broker_url else jobs.InProcessExecutor


def run_worker(settings: Settings, *, concurrency: int, loglevel: str) -> None:
    """A Celery worker for planning jobs (blocks until stopped)."""
    app = celery_app(settings)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel.upper()}",
            f"--queues={settings.broker_queue}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
