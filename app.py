"""Entry point: ``flask --app app run`` and ``gunicorn app:app``."""

import gc

from audit import create_app

app = create_app()
# Everything built so far lives as long as the process: move it out of the collector's reach.
# Under ``gunicorn --preload`` this runs in the master before the fork, so the workers' garbage
# collections no longer write to (and so copy) the pages they share with it (issue 16).
gc.freeze()
