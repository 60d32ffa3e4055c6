"""`python -m influencers`: the same command as `influencers`, from the same first lines (influencers/console.py: a
Ctrl-C while the command loads ends it with one line)."""

import sys

from influencers.console import main

if __name__ == "__main__":
    sys.exit(main())
