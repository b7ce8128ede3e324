"""How gunicorn serves the web app, wherever it runs (the image, compose, the
load test and the tests' processes): `gunicorn -c python:syncstatus.gunicorn
syncstatus.wsgi`. The command line overrides any of these (`--bind`,
`--workers`), as do GUNICORN_CMD_ARGS and WEB_WORKERS / WEB_THREADS."""

import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_WORKERS", "3"))
# A request spends much of its time waiting: a received report's commit for
# the disk, Redis. Threads let a worker serve others meanwhile (`make bench`:
# small reports accepted by 2 workers, 130/s with one thread each, 160-220/s
# with 4, on a loaded 2-core machine).
threads = int(os.environ.get("WEB_THREADS", "4"))
# A step's address names its cycle and step ids, up to 255 characters each:
# longer than gunicorn's default request line once percent-encoded.
limit_request_line = 8190
# An idle connection stays open longer than a client waits between two
# requests: closing it at the moment the client reuses it fails that request
# ("Remote end closed connection without response"), which the load test's
# admins, 1 to 4 s between clicks, met with gunicorn's default of 2 s. Behind
# the TLS proxy, the proxy's idle timeout must be the shorter one (nginx keeps
# an upstream connection 60 s).
keepalive = 75
accesslog = "-"
