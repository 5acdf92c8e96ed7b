"""Ion platform core: models, settings, providers, dispatch, reconcile and the local runtime."""
