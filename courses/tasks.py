"""Cover thumbnails are made in a task after the course is saved; a beat sweep makes any that
a lost message or a dead worker left undone (the course row says what is stale)."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def refresh_cover(course_id: int) -> bool:
    return services.refresh_cover(course_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_stale_covers() -> int:
    ids = services.courses_with_stale_covers()
    for course_id in ids:
        refresh_cover.delay(course_id)
    return len(ids)
