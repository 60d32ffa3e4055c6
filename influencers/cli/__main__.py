"""`python -m influencers.cli`: the same command as `influencers`."""

import sys

from influencers.cli import main

if __name__ == "__main__":
    sys.exit(main())
