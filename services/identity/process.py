"""The identity process: everything the service owns (the face store, the registry, the worker pool, the change
feed), the gRPC server built over them, and the order they stop in."""

from __future__ import annotations

import logging

import grpc

from influencers.v1 import identity_pb2, identity_pb2_grpc
from services.common.rpc import RunningServer, build_server, named_checks
from services.common.settings import ENV_PREFIX, Settings, SettingsError, check_face_locator
from services.common.starting import StartingHealth
from services.common.tls import server_credentials
from services.identity.assignment import Thresholds
from services.identity.audit import audit_key
from services.identity.change_writer import ChangeWriter
from services.identity.correction_log import log_corrections
from services.identity.corrections import scrub_plain_hashes
from services.identity.crops import CropStore
from services.identity.dlib_weights import ModelFileError
from services.identity.encoder_choice import check_recorded, choose_encoder
from services.identity.facestore import FaceStore
from services.identity.feed import ChangeFeed
from services.identity.gauges import attach_gauges
from services.identity.hog_detector import model_cache_dir
from services.identity.old_records import drop_undone_merges, mark_id_like_names
from services.identity.open_store import open_face_store
from services.identity.registry import IdentityRegistry
from services.identity.server import IdentityServicer
from services.identity.workers import FaceWorkers
from services.identity.writer_lock import WriterLock

log = logging.getLogger(__name__)

# The server's threads. Calls that may hold one for long are capped (server.py): AnalyzeVideo streams (12),
# Recluster calls (4) and enrolments (2); the 6 left answer health checks, corrections and reads however many
# of those callers come. Was 16: the caps alone could take every thread.
SERVER_THREADS = 24


def start_workers(settings: Settings, store: FaceStore, lock: WriterLock) -> tuple[str, FaceWorkers]:
    """The face workers and the encoder they run: the one the store records, or for a new store the one
    INFLUENCERS_ENCODER gives (auto: opencv), recorded once the workers have loaded it (a model file they cannot
    read leaves nothing recorded). The record is checked again under the writers' lock, which every replica
    sharing the store takes: two replicas starting a new store with different encoders cannot both go on.
    SettingsError naming INFLUENCERS_ENCODER: a setting contradicting the store's encoder, or opencv unable to
    read dlib's encoder model (each worker reads it once as it starts)."""
    where = store.where()
    recorded = store.recorded_encoder()
    encoder = choose_encoder(settings.encoder, recorded, recorded is None and store.holds_hashes(), where)
    locator = settings.face_locator_model()
    try:
        workers = FaceWorkers(settings.worker_count, locator=str(locator or ""), encoder=encoder,
                              model_cache=str(model_cache_dir() or ""))
    except ModelFileError as exc:
        shown = encoder if settings.encoder == encoder else f"{settings.encoder} ({encoder} for this store)"
        raise SettingsError(f"{ENV_PREFIX}ENCODER={shown}: {exc}") from None
    try:
        with lock:
            recorded = store.recorded_encoder()
            if check_recorded(encoder, recorded, recorded is None and store.holds_hashes(), where):
                store.record_encoder(encoder)
                log.info("face store %s: filled by the %s encoder from now on (recorded)", where, encoder)
    except BaseException:
        workers.close()
        raise
    return encoder, workers


class IdentityProcess:
    """Everything the identity service owns: the face store, the registry, the worker pool, the server."""

    def __init__(self, settings: Settings, store: FaceStore | None = None,
                 starting: StartingHealth | None = None) -> None:
        """`store`: a face store to use instead of the one the settings name (a shared one, in tests of
        several replicas). SettingsError naming INFLUENCERS_FACE_LOCATOR, before anything is opened, when its
        model file is missing (as the CLI refuses it); naming INFLUENCERS_ENCODER, before anything is served, when
        it contradicts the face store's encoder or opencv cannot read dlib's encoder model (start_workers).
        `starting`: the health answer while the stores are opened and migrated, handed over to this server."""
        check_face_locator(settings)
        self.settings = settings
        self.store = store or open_face_store(settings)
        self.feed = ChangeFeed.open(settings.database_url, settings.data_dir, settings.feed_retention)
        thresholds = Thresholds(settings.match_threshold, settings.match_margin, settings.cluster_threshold)
        self.writer_lock = WriterLock(self.feed.engine)
        self.registry = IdentityRegistry(self.store, CropStore(self.store), thresholds, self.writer_lock)
        try:
            self.encoder, self.workers = start_workers(settings, self.store, self.writer_lock)
        except BaseException:  # refused (the encoder): what was opened is closed, nothing is served
            self.writer_lock.close()
            self.feed.close()
            if store is None:
                self.store.close()
            raise
        scrubbed = scrub_plain_hashes(self.store)
        if scrubbed:
            log.info("removed the plain SHA-256 of erased ids from %d audit records of an older release", scrubbed)
        with self.registry.lock:  # records of an older release (old_records.py); the journal finishes the renames
            dropped = drop_undone_merges(self.store)
            renamed = mark_id_like_names(self.store)
        if dropped:
            log.info("dropped %d merge records of merges undone under an older release", len(dropped))
        if renamed:
            log.info("marked %d names of the form of an influencer id, given under an older release", len(renamed))
        self.writer = ChangeWriter(self.registry, self.feed, settings, audit_key(settings.audit_key, settings.data_dir))
        servicer = log_corrections(IdentityServicer(self.registry, self.workers, settings, self.writer))
        self.writer.resume_erasures()
        self.writer.resume_corrections()
        self.servicer = servicer

        def register(server: grpc.Server) -> str:
            identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server)
            return identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name

        if starting is not None:
            starting.handover()
        # Ready: Qdrant, the face workers and the change feed's database (every correction and batch writes
        # the feed: with it down, identity could do nothing but fail).
        ready = named_checks(("the vector store", self.store.healthy), ("the face workers", self.workers.healthy),
                             ("the change feed's database", lambda: self.feed.head() >= 0))
        self.server: RunningServer = build_server("identity", settings.host, settings.identity_port, [register],
                                                  token=settings.token, max_workers=SERVER_THREADS,
                                                  credentials=server_credentials(settings), data_dir=settings.data_dir,
                                                  ready=ready)
        self._detach_gauges = attach_gauges(self.registry, self.store, self.feed, settings.review_band)

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace_s: float = 10.0) -> None:
        self._detach_gauges()
        self.server.stop(grace_s)
        self.workers.close()
        self.servicer.scratch.close()  # its spool folder (the workers that read its files are gone)
        self.store.close()
        self.writer_lock.close()
        self.feed.close()
