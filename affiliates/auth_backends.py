"""Authentication backends that load the signed-in user together with their affiliate row.

Every signed-in request loads ``request.user``; the pages that need the user's affiliate (the
dashboard, the join page) then ran a second query for it. ``select_related`` on the reverse
one-to-one makes it one query (a LEFT JOIN on the primary key) and
``selectors.affiliate_for_user`` reads the row from the user. They stand in for Django's and
allauth's backends in ``AUTHENTICATION_BACKENDS`` and change nothing else.
"""

from allauth.account.auth_backends import AuthenticationBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class _LoadsAffiliate:
    def get_user(self, user_id):
        users = get_user_model()._default_manager
        try:
            user = users.select_related("affiliate").get(pk=user_id)
        except users.model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class ModelBackendWithAffiliate(_LoadsAffiliate, ModelBackend):
    pass


class AllauthBackendWithAffiliate(_LoadsAffiliate, AuthenticationBackend):
    pass
