"""Production entry point: `gunicorn wsgi:app` (settings in gunicorn.conf.py)."""

import sys

from ivr import StartupError, create_app
from ivr.web.logs import configure

configure()
try:
    app = create_app()
except StartupError as error:
    print(f"ivr: {error}", file=sys.stderr)
    sys.exit(3)  # gunicorn's "worker failed to boot": the server stops instead of retrying
