"""Blob storage: module files, streamed, by name."""

from shared.blob.base import BlobStore, check_blob_name

__all__ = ["BlobStore", "check_blob_name"]
