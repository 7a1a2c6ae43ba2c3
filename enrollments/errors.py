"""The errors the enrollment selectors and services raise to their callers (views, admin).

Kept apart from both so a selector (``quote_checkout``, ``preview_refund``) and a service can
raise the same error without importing each other.
"""


class CheckoutError(Exception):
    """A checkout that cannot go ahead; ``message`` is safe to show the learner. ``status`` is
    the HTTP status of the page that says so (the checkout form again, or for 5xx an error page)
    and ``page_context()`` what that page is given."""

    message = "We could not start your checkout."
    status = 400

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message

    def page_context(self) -> dict:
        return {"error": self.message}


class CouponNotAccepted(CheckoutError):
    """The coupon was refused; ``reason`` is the grants app's short code (for logs/metrics)."""

    def __init__(self, refusal):
        super().__init__(refusal.message)
        self.reason = refusal.reason


class RefundError(Exception):
    """A refund that cannot be made; ``message`` is for the staff member who asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
