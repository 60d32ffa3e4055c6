"""`python -m influencers`: the same command as `influencers`."""

import sys

if __name__ == "__main__":
    try:
        from influencers.cli import main
    except KeyboardInterrupt:  # Ctrl-C while the command loads (main() says it for the rest): no traceback
        print("\ninfluencers: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
