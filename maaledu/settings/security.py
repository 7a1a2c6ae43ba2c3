"""Security headers, Content-Security-Policy and cookie flags (production.py adds the HTTPS-only
ones)."""

from .integrations import STRIPE_API_BASE
from .storage import MEDIA_ORIGIN

# --- Security headers (production.py adds HTTPS-only settings) ----------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
PERMISSIONS_POLICY = "geolocation=(), microphone=(), camera=()"
# Content-Security-Policy (django-csp): our pages need no inline script or style. Forms post to
# ourselves; checkout then redirects to Stripe's hosted page, which form-action must allow.
_STRIPE_CHECKOUT_ORIGINS = ["https://checkout.stripe.com"]
if STRIPE_API_BASE:
    _STRIPE_CHECKOUT_ORIGINS.append(STRIPE_API_BASE.rstrip("/"))
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *([MEDIA_ORIGIN] if MEDIA_ORIGIN else [])],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", *_STRIPE_CHECKOUT_ORIGINS],
    }
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
