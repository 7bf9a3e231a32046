"""gunicorn settings shared by `canvas-ladok serve`, `web` and the ingest benchmark."""

workers = 2
worker_class = "gthread"
threads = 4
timeout = 60
graceful_timeout = 20
# %(U)s is the path without its query string: ?token= never reaches the access log.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
