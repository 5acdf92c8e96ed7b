"""Metadata: event contexts, insights and job records."""

from shared.metadata.base import Conflict, MetadataStore

__all__ = ["Conflict", "MetadataStore"]
