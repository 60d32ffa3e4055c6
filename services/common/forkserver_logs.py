"""The logging set-up of multiprocessing's fork server, which imports this module first of its preloaded ones
(services/ingest/decoders.py). The stdlib starts that interpreter with no hook but the list of modules to import,
so importing this is its set-up: the one its parent exported (logs.export_setup). Before, with JSON logs, a warning
of the fork server or the traceback of a child it could not start was Python's raw lines between the JSON ones."""

from services.common.logs import adopt_setup, exported_setup

adopt_setup(exported_setup())
