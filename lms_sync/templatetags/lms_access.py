"""``{% load lms_access %}``: the learner's LMS access, for pages owned by ``enrollments``.

``enrollments`` sits below ``lms_sync`` and never imports it, but its status fragment and "My
courses" must say whether access is ready ("Enrolling", "Ready", "Delayed") and show progress.
The templates ask through these tags, registered by ``lms_sync`` and reading only
``lms_sync.selectors``; the dependency runs page → lms_sync, never enrollments → lms_sync.

    {% lms_access_map enrollments as lms_known %}      one query for a whole list
    {% lms_access enrollment lms_known as access %}    one enrollment (a query without the map)

``access.state`` is the current job's status ("" while no job exists yet), ``access.progress``
the last progress read, ``access.done`` whether nothing more happens by itself.
"""

from django import template

from .. import selectors

register = template.Library()


@register.simple_tag
def lms_access_map(enrollments) -> dict[int, selectors.LmsAccess]:
    return selectors.lms_access([enrollment.pk for enrollment in enrollments])


@register.simple_tag
def lms_access(enrollment, known=None) -> selectors.LmsAccess:
    if known and enrollment.pk in known:
        return known[enrollment.pk]
    return selectors.lms_access([enrollment.pk]).get(enrollment.pk, selectors.NO_ACCESS_YET)
