"""Static files and uploaded media: the local file system, or an S3-compatible bucket."""

from .core import DEBUG
from .environment import BASE_DIR, env

# --- Static files, i18n -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# The site itself serves MEDIA_URL from MEDIA_ROOT (development, the demo, the browser tests);
# in production a file storage (S3) or the proxy serves it.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)
# Uploaded media (course images): an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, …)
# through django-storages when MEDIA_S3_BUCKET is set, the local file system otherwise. The
# bucket (or MEDIA_S3_PREFIX in it) must be publicly readable: cached pages keep image URLs for
# as long as they are cached, so they are plain URLs, never expiring signed ones.
MEDIA_S3_BUCKET = env("MEDIA_S3_BUCKET", default="")
MEDIA_S3_ENDPOINT_URL = env("MEDIA_S3_ENDPOINT_URL", default="").rstrip("/")
MEDIA_S3_CUSTOM_DOMAIN = env("MEDIA_S3_CUSTOM_DOMAIN", default="")
if MEDIA_S3_BUCKET:
    MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": MEDIA_S3_ENDPOINT_URL or None,
            "region_name": env("MEDIA_S3_REGION", default="") or None,
            "access_key": env("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            "custom_domain": MEDIA_S3_CUSTOM_DOMAIN or None,
            "location": env("MEDIA_S3_PREFIX", default="media"),
            "querystring_auth": False,
            "file_overwrite": False,
            "default_acl": None,  # the bucket's policy decides (public read for images)
        },
    }
    if MEDIA_S3_CUSTOM_DOMAIN:
        MEDIA_ORIGIN = f"https://{MEDIA_S3_CUSTOM_DOMAIN}"
    elif MEDIA_S3_ENDPOINT_URL:
        MEDIA_ORIGIN = MEDIA_S3_ENDPOINT_URL  # path-style URLs: <endpoint>/<bucket>/…
    else:
        MEDIA_ORIGIN = f"https://{MEDIA_S3_BUCKET}.s3.amazonaws.com"
else:
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    MEDIA_ORIGIN = ""
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
