"""Planning jobs on Celery workers: the broker-side executor the API hands jobs to (one
message per region task, so the regions of a job run in parallel on the workers), and the
task `dispatch worker` runs. A job's state and progress stay in the database (dispatch.jobs,
dispatch.tasks), so any API process can report on a job whichever workers run it."""

from __future__ import annotations

import functools
import logging
import threading

import sqlalchemy as sa
from celery import Celery, signals

from dispatch import db, jobs, leases
from dispatch.settings import Settings

log = logging.getLogger(__name__)
TASK = "dispatch.plan_task"
# A broker that does not answer must fail a plan request in seconds (503), not hang it.
BROKER_TIMEOUT_SECONDS = 3
BUSY_RETRY = 2.0


def celery_app(settings: Settings) -> Celery:
    """The Celery app of ``settings.broker_url``, with the planning task registered."""
    if not settings.broker_url:
        raise ValueError("DISPATCH_BROKER_URL is not set: planning runs in the API process")
    app = Celery("dispatch", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.broker_queue,
        # Acknowledged only once run, so the broker delivers again a task whose worker died
        # (after its visibility timeout); a task is claimed under a lease, so a second
        # delivery never runs it twice, and the workers' sweepers hand over a task whose
        # lease lapsed long before the broker would.
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
        # Made on the first task, not when the API or the CLI imports this module.
        with lock:
            if "engine" not in engines:
                engines["engine"] = db.make_engine(settings.database_url)
            return engines["engine"]

    # A task whose region another plan holds is sent again later rather than holding a
    # worker while it waits; for at most the longest plan there can be.
    retries = int((settings.max_plan_seconds + 2 * settings.job_lease_seconds) / BUSY_RETRY)

    @app.task(name=TASK, bind=True, max_retries=retries)
    def plan_task(self, task_id: int) -> None:  # type: ignore[no-untyped-def]
        ran = jobs.run_task(
            engine(),
            task_id,
            settings,
            hand_over=lambda follow: app.send_task(TASK, args=[follow]),
        )
        if ran is leases.Ran.busy:
            if self.request.retries >= retries:
                jobs.give_up(engine(), task_id, "its region stayed busy with another plan")
                return
            raise self.retry(countdown=BUSY_RETRY)

    return app


class CeleryExecutor:
    """Hands each job to the broker; `dispatch worker` processes run them."""

    def __init__(self, engine: sa.Engine, settings: Settings) -> None:
        self.engine = engine
        self.app = celery_app(settings)

    def submit(self, job_id: int) -> None:
        # No retries here: the API turns a failure into 503 with Retry-After at once. A job
        # of no region has nothing to run: it is summed up here.
        pending = jobs.task_ids(self.engine, job_id)
        for task_id in pending:
            self.app.send_task(TASK, args=[task_id], retry=False)
        if not pending:
            jobs.finish_if_done(self.engine, job_id)

    def shutdown(self) -> None:
        self.app.close()


def executor_for(settings: Settings) -> jobs.ExecutorFactory:
    """Celery when a broker is configured, else planning in the API process (which resumes
    the tasks a stopped server left)."""
    if settings.broker_url:
        return CeleryExecutor
    return functools.partial(jobs.InProcessExecutor, resume=True)


def run_worker(settings: Settings, *, concurrency: int, loglevel: str) -> None:
    """A Celery worker for planning jobs (blocks until stopped); its main process also hands
    over again the tasks whose worker died."""
    app = celery_app(settings)
    sweepers: list[jobs.Sweeper] = []

    @signals.worker_ready.connect(weak=False)
    def sweep(**_: object) -> None:
        engine = db.make_engine(settings.database_url)
        sweepers.append(
            jobs.Sweeper(engine, settings, lambda task_id: app.send_task(TASK, args=[task_id]))
        )

    @signals.worker_shutdown.connect(weak=False)
    def stop(**_: object) -> None:
        for sweeper in sweepers:
            sweeper.stop()
            sweeper.engine.dispose()

    app.worker_main(
        [
            "worker",
            # Not prefork: its pool processes are daemons, which may not start the solver's
            # parallel searches (a plan of 10 s or more searches in two processes). Tasks
            # run in the worker process (one at a time) or its threads; a machine's cores
            # are used by running a worker per core, or by the solver's own processes.
            f"--pool={'solo' if concurrency == 1 else 'threads'}",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel.upper()}",
            f"--queues={settings.broker_queue}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
