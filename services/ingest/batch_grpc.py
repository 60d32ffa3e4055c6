"""gRPC adapters of the batch protocol's ports (`batch.IdentityPort`, `batch.AnalyticsPort`): the shared clients
of services/common/clients.py, under the names ingest has always imported them by."""

from __future__ import annotations

from services.common.clients import LONG_CALL_S, REVIEW_ANSWERS, GrpcAnalytics, GrpcIdentity, connect

__all__ = ["LONG_CALL_S", "REVIEW_ANSWERS", "GrpcAnalytics", "GrpcIdentity", "connect"]
