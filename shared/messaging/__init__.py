"""Messaging: one topic per event type, one subscription per module."""

from shared.messaging.base import MessageBus, ReceivedMessage

__all__ = ["MessageBus", "ReceivedMessage"]
