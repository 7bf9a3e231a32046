"""gunicorn settings shared by `canvas-ladok serve`, `web` and the ingest benchmark."""

workers = 2
# gunicorn's gthread worker with socket read/write timeouts (plugin/serve/gunicorn_worker.py).
worker_class = "plugin.serve.gunicorn_worker.Worker"
threads = 8
timeout = 60
graceful_timeout = 20
# Seconds a client may keep a started request waiting for its next bytes (answered 408).
read_timeout = 5
# A keep-alive connection is answered `Connection: close` at this many requests. A client that
# holds a few connections open (Canvas, a proxy, a load generator) would otherwise keep all
# its requests on the worker that happened to accept them; each new connection goes to the
# worker that accepts first, usually the less busy one.
keepalive_requests = 100
# No query string (?token=) and no raw control character in any log line.
logger_class = "plugin.serve.gunicorn_logging.Logger"
# %(U)s is the path without its query string: ?token= never reaches the access log.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
