"""The live-sync switch: the `incremental` deployment's schedule, its active flag and its interval.

The UI's schedule toggle and `cpq-sync live on|off` change the same flag through the same API call
(PATCH /deployments/{id}/schedules/{schedule_id}).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from prefect.client.orchestration import get_client
from prefect.client.schemas.schedules import IntervalSchedule

INCREMENTAL = "sync/incremental"


@dataclass(frozen=True)
class LiveSync:
    active: bool
    interval_seconds: float | None


def live_sync_state(deployment: str = INCREMENTAL) -> LiveSync:
    with get_client(sync_client=True) as client:
        found = client.read_deployment_by_name(deployment)
        if not found.schedules:
            raise LookupError(f"deployment {deployment} has no schedule")
        schedule = found.schedules[0]
        interval = schedule.schedule.interval if isinstance(schedule.schedule, IntervalSchedule) else None
        return LiveSync(bool(schedule.active), interval.total_seconds() if interval else None)


def set_live_sync(
    active: bool | None = None, *, interval_seconds: int | None = None, deployment: str = INCREMENTAL
) -> LiveSync:
    """Turns live syncing on or off and/or sets its interval; returns the new state."""
    with get_client(sync_client=True) as client:
        found = client.read_deployment_by_name(deployment)
        if not found.schedules:
            raise LookupError(f"deployment {deployment} has no schedule")
        schedule = found.schedules[0]
        new_schedule = None
        if interval_seconds is not None:
            current = schedule.schedule
            anchor = current.anchor_date if isinstance(current, IntervalSchedule) else None
            new_schedule = IntervalSchedule(
                interval=dt.timedelta(seconds=interval_seconds),
                anchor_date=anchor or dt.datetime.now(dt.UTC),
            )
        client.update_deployment_schedule(found.id, schedule.id, active=active, schedule=new_schedule)
    return live_sync_state(deployment)
