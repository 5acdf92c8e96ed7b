"""Ion's Azure Functions app, as blueprints registered by function_app.py.

- servicebus_dispatch: one Service Bus topic trigger per module subscription, calling the shared Dispatcher.
- reconciler: the timer that calls the shared Reconciler.
- submit: POST /api/events, which publishes a first event.

The functions are thin drivers: dispatch, reconcile and submit logic live in `shared/`.
"""
