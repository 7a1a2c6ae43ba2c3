"""Alert thresholds (ops.alerts)."""

from .environment import env

# --- Alerts (ops.alerts, every 5 minutes, e-mailed to STAFF_NOTIFICATION_EMAILS) -------------
# LMS sync jobs failing within one hour that open an incident.
ALERT_LMS_FAILED_PER_HOUR = env.int("ALERT_LMS_FAILED_PER_HOUR", default=5)
# Minutes after payment a paid enrollment may wait for its LMS enrolment.
ALERT_LMS_PENDING_MINUTES = env.int("ALERT_LMS_PENDING_MINUTES", default=30)
