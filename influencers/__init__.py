"""influencers: find the people in a brand's short videos and report who drives performance."""

import os

from influencers.native_logs import quiet_native_grpc_logs

# Before anything imports grpc: its C core reads GRPC_VERBOSITY once, at import (influencers/native_logs.py).
quiet_native_grpc_logs(os.environ)


def version() -> str:
    """The installed package's version ("0+unknown" from a source tree never installed). Read when asked for:
    importlib.metadata took a tenth of `influencers --help`'s start."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("influencers")
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> str:  # `influencers.__version__`, read when asked for
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'influencers' has no attribute {name!r}")
