"""The web server: gunicorn settings, its worker and logger, and the page renderer."""
