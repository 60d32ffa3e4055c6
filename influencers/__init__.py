"""influencers: find the people in a brand's short videos and report who drives performance."""

import os
from importlib.metadata import PackageNotFoundError, version

from influencers.native_logs import quiet_native_grpc_logs

# Before anything imports grpc: its C core reads GRPC_VERBOSITY once, at import (influencers/native_logs.py).
quiet_native_grpc_logs(os.environ)

try:
    __version__ = version("influencers")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
