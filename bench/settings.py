"""The production settings as deployed, with the static files collected into the bench's own
temporary folder instead of the work tree's ``staticfiles/``."""

from maaledu.settings.production import *  # noqa: F403
from maaledu.settings.production import env

STATIC_ROOT = env("BENCH_STATIC_ROOT")
