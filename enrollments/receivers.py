"""Sign-in and sign-out move or end an anonymous browser's checkouts (browser_checkouts.py)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from .browser_checkouts import forget_checkout_cookie, move_checkouts_into_the_session


@receiver(user_logged_in, dispatch_uid="enrollments.checkouts_follow_the_sign_in")
def checkouts_follow_the_sign_in(sender, request, user, **kwargs):
    if request is not None:
        move_checkouts_into_the_session(request)


@receiver(user_logged_out, dispatch_uid="enrollments.checkouts_end_with_the_sign_out")
def checkouts_end_with_the_sign_out(sender, request, user, **kwargs):
    if request is not None:
        forget_checkout_cookie(request)
