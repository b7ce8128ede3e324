"""The product's settings plus the development tools' app, for `make bench` and `make load`."""

from syncstatus.settings import *  # noqa: F403 - the product's settings, unchanged
from syncstatus.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]
