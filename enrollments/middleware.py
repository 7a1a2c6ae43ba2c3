from .browser_checkouts import CHECKOUT_COOKIE


class CheckoutCookieMiddleware:
    """Deletes the anonymous checkout cookie from the answer when the browser signed in or out
    during the request (``enrollments.receivers``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "forget_checkout_cookie", False):
            response.delete_cookie(CHECKOUT_COOKIE, samesite="Lax")
        return response
