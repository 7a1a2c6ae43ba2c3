"""Client IP and rate limits: allauth's (login, signup, password reset) and ours
(common.ratelimits), each overridable from the environment."""

from .environment import env

ACCOUNT_RATE_LIMITS = {
    "login": env("RATE_LIMIT_LOGIN", default="30/m/ip"),
    "login_failed": env("RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "signup": env("RATE_LIMIT_SIGNUP", default="20/m/ip"),
    "reset_password": env("RATE_LIMIT_RESET_PASSWORD", default="20/m/ip,5/m/key"),
    "confirm_email": "1/3m/key",
}

# --- Client IP and rate limits ------------------------------------------------------------
# The META key holding the client address. Behind a proxy set it to the header that proxy
# overwrites (e.g. HTTP_X_REAL_IP); X-Forwarded-For is never trusted as sent by the client.
CLIENT_IP_META_KEY = env("CLIENT_IP_META_KEY", default="REMOTE_ADDR")
RATELIMIT_IP_META_KEY = "common.client_ip.client_ip"
RATELIMIT_USE_CACHE = "default"
# Per client IP: ?ref= visits that may record a referral click; per user: affiliate join posts.
REFERRAL_CLICK_RATE = env("REFERRAL_CLICK_RATE", default="60/m")
AFFILIATE_JOIN_RATE = env("AFFILIATE_JOIN_RATE", default="10/h")
# Grant applications (POSTs of /grants/apply/) per client IP and per applicant e-mail.
GRANT_APPLY_RATE_PER_IP = env("GRANT_APPLY_RATE_PER_IP", default="5/h")
GRANT_APPLY_RATE_PER_EMAIL = env("GRANT_APPLY_RATE_PER_EMAIL", default="3/h")
# Checkout submissions per client IP and per buyer e-mail.
CHECKOUT_RATE_PER_IP = env("CHECKOUT_RATE_PER_IP", default="30/m")
CHECKOUT_RATE_PER_EMAIL = env("CHECKOUT_RATE_PER_EMAIL", default="10/m")
# Checkout attempts with a grant coupon per user and per client IP (brute force of codes).
COUPON_RATE_PER_USER = env("COUPON_RATE_PER_USER", default="10/h")
COUPON_RATE_PER_IP = env("COUPON_RATE_PER_IP", default="30/h")
# The account page: data exports per user, and deletion attempts (password checks) per user.
ACCOUNT_EXPORT_RATE = env("ACCOUNT_EXPORT_RATE", default="10/h")
ACCOUNT_DELETE_RATE = env("ACCOUNT_DELETE_RATE", default="5/h")
