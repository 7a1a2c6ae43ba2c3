"""The services we talk to: e-mail (SendGrid through anymail, the console otherwise), Stripe and
the Frappe LMS."""

from .environment import env

# --- E-mail -------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="MaalEdu <no-reply@maaledu.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
STAFF_NOTIFICATION_EMAILS = env.list("STAFF_NOTIFICATION_EMAILS", default=["staff@maaledu.local"])
SENDGRID_API_KEY = env("SENDGRID_API_KEY", default="")
if SENDGRID_API_KEY:
    EMAIL_BACKEND = "anymail.backends.sendgrid.EmailBackend"
    ANYMAIL = {"SENDGRID_API_KEY": SENDGRID_API_KEY}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Stripe -------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Points the SDK at another host (a local fake in tests and demos); empty = api.stripe.com.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# How long a Checkout Session stays open (Stripe allows 30 minutes to 24 hours).
CHECKOUT_SESSION_MINUTES = env.int("CHECKOUT_SESSION_MINUTES", default=60)
STRIPE_WEBHOOK_MAX_BYTES = env.int("STRIPE_WEBHOOK_MAX_BYTES", default=256 * 1024)
# Stripe Tax: tax computed by Stripe inside our (tax-inclusive) prices, and a tax-ID field for
# business buyers at checkout. Needs Stripe Tax set up in the Stripe dashboard.
STRIPE_AUTOMATIC_TAX = env.bool("STRIPE_AUTOMATIC_TAX", default=False)
# The success page asks Stripe about a pending checkout (a late or lost webhook) at most once
# per this many seconds per enrollment; the status fragment that htmx polls never does.
STRIPE_REFRESH_COOLDOWN_SECONDS = env.int("STRIPE_REFRESH_COOLDOWN_SECONDS", default=30)

# --- Frappe LMS ---------------------------------------------------------------------------
FRAPPE_URL = env("FRAPPE_URL", default="").rstrip("/")
FRAPPE_API_KEY = env("FRAPPE_API_KEY", default="")
FRAPPE_API_SECRET = env("FRAPPE_API_SECRET", default="")
# For benches reached by IP: the site's domain, sent as the Host header.
FRAPPE_HOST_HEADER = env("FRAPPE_HOST_HEADER", default="")
FRAPPE_CONNECT_TIMEOUT = env.float("FRAPPE_CONNECT_TIMEOUT", default=5.0)
FRAPPE_READ_TIMEOUT = env.float("FRAPPE_READ_TIMEOUT", default=20.0)
FRAPPE_SEND_WELCOME_EMAIL = env.bool("FRAPPE_SEND_WELCOME_EMAIL", default=True)
# Public URL learners open; defaults to FRAPPE_URL.
FRAPPE_PUBLIC_URL = env("FRAPPE_PUBLIC_URL", default=FRAPPE_URL).rstrip("/")
