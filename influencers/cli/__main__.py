"""`python -m influencers.cli`: the same command as `influencers`. Python imports this package (the parser) before
these lines run: a Ctrl-C in that import still prints a traceback; `influencers` and `python -m influencers` end
it in one line (influencers/console.py)."""

import sys

from influencers.console import main

if __name__ == "__main__":
    sys.exit(main())
