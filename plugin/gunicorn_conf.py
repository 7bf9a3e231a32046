"""gunicorn settings shared by `canvas-ladok serve`, `web` and the ingest benchmark."""

workers = 2
# gunicorn's gthread worker with socket read/write timeouts (plugin/gunicorn_worker.py).
worker_class = "plugin.gunicorn_worker.Worker"
threads = 8
timeout = 60
graceful_timeout = 20
# Seconds a client may keep a started request waiting for its next bytes (answered 408).
read_timeout = 5
# No query string (?token=) and no raw control character in any log line.
logger_class = "plugin.gunicorn_logging.Logger"
# %(U)s is the path without its query string: ?token= never reaches the access log.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
