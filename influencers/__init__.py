"""influencers: find the people in a brand's short videos and report who drives performance."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("influencers")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
