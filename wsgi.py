"""WSGI entry point for gunicorn: ``gunicorn -k gevent -w 1 wsgi:app`` (one worker per process)."""

from exam_server import create_app

app = create_app()
