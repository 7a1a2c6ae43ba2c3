"""LMS sync jobs (lms_sync.services): retries, back-off, leases and progress pulls."""

from .environment import env

# --- LMS sync jobs (lms_sync.services) ----------------------------------------------------
# Transient failures back off from BASE doubling to MAX (each delay jittered to 75–100 %); a job
# fails after MAX_ATTEMPTS. 25 attempts span more than 3 days even with the shortest jitter.
LMS_SYNC_MAX_ATTEMPTS = env.int("LMS_SYNC_MAX_ATTEMPTS", default=25)
LMS_SYNC_BASE_DELAY_SECONDS = env.int("LMS_SYNC_BASE_DELAY_SECONDS", default=60)
LMS_SYNC_MAX_DELAY_SECONDS = env.int("LMS_SYNC_MAX_DELAY_SECONDS", default=6 * 3600)
# How long a worker holds a job: longer than the slowest sync (about four Frappe calls of up to
# FRAPPE_CONNECT_TIMEOUT + FRAPPE_READ_TIMEOUT each). A dead worker's job restarts after it.
LMS_SYNC_LEASE_SECONDS = env.int("LMS_SYNC_LEASE_SECONDS", default=300)
# Rejected credentials or an unknown site: jobs wait and try again this often.
LMS_SYNC_CONFIG_RETRY_SECONDS = env.int("LMS_SYNC_CONFIG_RETRY_SECONDS", default=15 * 60)
# Synced enrollments whose progress one pull reads, least recently read first.
LMS_PROGRESS_BATCH = env.int("LMS_PROGRESS_BATCH", default=500)
