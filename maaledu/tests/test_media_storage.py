"""Course images: an S3-compatible bucket (django-storages) when the environment names one,
the local file system otherwise, in development and production settings alike."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
DEVELOPMENT = {"DJANGO_SETTINGS_MODULE": "maaledu.settings.development"}
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "maaledu.settings.production",
    "DJANGO_SECRET_KEY": "production-like-secret-key-with-enough-entropy-0123456789-abcdef",
    "DJANGO_ALLOWED_HOSTS": "maaledu.example.com",
}
S3 = {
    "MEDIA_S3_BUCKET": "maaledu-media",
    "MEDIA_S3_ENDPOINT_URL": "https://objects.example.net",
    "MEDIA_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "MEDIA_S3_SECRET_ACCESS_KEY": "example-secret",
    "MEDIA_S3_REGION": "eu-central-1",
}
PROBE = (
    "import json; from django.conf import settings; "
    "from django.core.files.storage import storages; s = storages['default']; "
    "print(json.dumps({'backend': type(s).__module__ + '.' + type(s).__name__, "
    "'url': s.url('courses/cover.png'), "
    "'img_src': settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']}))"
)


def media_settings(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIA_S3_")}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "settings_env", [DEVELOPMENT, PRODUCTION], ids=["development", "production"]
)
def test_media_go_to_the_local_file_system_without_a_bucket(settings_env):
    media = media_settings(**settings_env)

    assert media["backend"] == "django.core.files.storage.filesystem.FileSystemStorage"
    assert media["url"] == "/media/courses/cover.png"
    assert media["img_src"] == ["'self'", "data:"]


@pytest.mark.parametrize(
    "settings_env", [DEVELOPMENT, PRODUCTION], ids=["development", "production"]
)
def test_a_configured_bucket_stores_media_in_s3_with_plain_public_urls(settings_env):
    media = media_settings(**settings_env, **S3)

    assert media["backend"] == "storages.backends.s3.S3Storage"
    assert media["url"].startswith("https://")
    assert "maaledu-media" in media["url"] and "media/courses/cover.png" in media["url"]
    assert "X-Amz-Signature" not in media["url"]  # cached pages must not hold expiring links
    assert "https://objects.example.net" in media["img_src"]


def test_a_custom_domain_serves_the_bucket():
    media = media_settings(**DEVELOPMENT, **S3, MEDIA_S3_CUSTOM_DOMAIN="media.maaledu.example.com")

    assert media["url"] == "https://media.maaledu.example.com/media/courses/cover.png"
    assert "https://media.maaledu.example.com" in media["img_src"]
