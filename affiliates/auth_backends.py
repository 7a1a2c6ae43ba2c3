"""Authentication backends that load the signed-in user together with their affiliate row.

Every signed-in request loads ``request.user``; the pages that need the user's affiliate (the
dashboard, the join page) then ran a second query for it. Both rows come together, from this
process's memory while the user's version is unchanged, else in one query (``signed_in``), and
``selectors.affiliate_for_user`` reads the row from the user. They stand in for Django's and
allauth's backends in ``AUTHENTICATION_BACKENDS`` and change nothing else.
"""

from allauth.account.auth_backends import AuthenticationBackend
from django.contrib.auth.backends import ModelBackend

from . import signed_in


class _LoadsAffiliate:
    def get_user(self, user_id):
        user = signed_in.user_with_affiliate(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackendWithAffiliate(_LoadsAffiliate, ModelBackend):
    pass


class AllauthBackendWithAffiliate(_LoadsAffiliate, AuthenticationBackend):
    pass
