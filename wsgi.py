"""WSGI entry point for gunicorn: ``gunicorn -k gevent -w 1 wsgi:app`` (one worker per process;
run several processes with EXAM_REDIS_URL set). The gevent worker patches the standard library
before loading this module; every process runs its own deadline sweeper (submission is
exactly-once across processes)."""

from exam_server import create_app
from exam_server.live import start_sweeper

app = create_app()
start_sweeper(app)
