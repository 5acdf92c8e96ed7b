"""The timer-triggered reconciler: moves job records on, relaunches failed attempts, dead-letters jobs.

Its schedule is the app setting ION_RECONCILE_SCHEDULE (NCRONTAB, default every 30 seconds).
`use_monitor` keeps the schedule in storage so a restarted or scaled-out app neither skips nor doubles
ticks; the host runs one instance of a timer function at a time across the app.
"""

# No `from __future__ import annotations` here: the worker reads the trigger's parameter type at indexing.

import logging

import azure.functions as func

from dispatcher_functions import context
from dispatcher_functions.app_settings import reconcile_schedule

log = logging.getLogger("ion.functions.reconcile")

FUNCTION_NAME = "reconcile"


def reconcile(timer: func.TimerRequest) -> None:
    """One reconcile pass. A store that cannot be reached raises; the next tick tries again."""
    if timer.past_due:
        log.info("reconcile tick is past due; running now")
    report = context.current().reconciler.reconcile_once()
    log.info(
        "reconciled %d job(s): %d launched, %d succeeded, %d retried, %d dead-lettered, %d cleaned up",
        report.checked, report.launched, report.succeeded, report.retried, report.dead_lettered,
        report.cleaned_up,
    )
    for error in report.errors:
        log.warning("reconcile: %s", error)


def build_blueprint() -> func.Blueprint:
    """Built on demand (not at import) so the schedule setting is read when the app is indexed."""
    blueprint = func.Blueprint()
    decorate_name = blueprint.function_name(name=FUNCTION_NAME)
    decorate_trigger = blueprint.timer_trigger(
        arg_name="timer", schedule=reconcile_schedule(), run_on_startup=False, use_monitor=True
    )
    decorate_name(decorate_trigger(reconcile))
    return blueprint
