"""Start the web app (``python app.py``, or ``python app.py serve --host H --port P``),
or ask from the command line (``python app.py ask "…"``, same as ``kb ask``)."""

import sys

from kb.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["serve"]))
