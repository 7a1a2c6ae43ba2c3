"""Where the project lives and how settings are read: django-environ, with ``.env`` (if any)
read first without overriding the real environment."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
