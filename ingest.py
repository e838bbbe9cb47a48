"""Index the articles: ``python ingest.py [FOLDER]`` (same as ``kb ingest``)."""

import sys

from kb.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["ingest", *sys.argv[1:]]))
