"""Ingest: reads manifests, fetches and decodes videos, streams sampled frames to identity."""
