import sys

from .preload import run_via_server

# A step runs in a child of the build's warm server when there is one (see preload.py).
status = run_via_server(sys.argv[1:])
if status is None:
    from .cli import main

    status = main()
sys.exit(status)
