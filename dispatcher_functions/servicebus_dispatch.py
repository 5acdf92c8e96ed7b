"""One Service Bus topic trigger per module: topic = the event type it subscribes to, subscription = its name.

The functions are generated from the manifest when the app is indexed, so adding a module to
modules.yaml (and its subscription to the infrastructure) is all it takes to get its dispatcher.
"""

# No `from __future__ import annotations` here: the worker reads the triggers' parameter types at indexing.

import logging
from collections.abc import Callable

import azure.functions as func

from dispatcher_functions import context
from dispatcher_functions.app_settings import SERVICEBUS_CONNECTION
from dispatcher_functions.settlement import IncomingMessage, settle
from shared.manifest import Manifest
from shared.models import ModuleSpec

log = logging.getLogger("ion.functions.dispatch")

MESSAGE_ARG = "msg"


def function_name(module_name: str) -> str:
    """`dispatch_<module>`: module names are lowercase letters, digits and '-', so this stays unique."""
    return "dispatch_" + module_name.replace("-", "_")


def incoming(module: ModuleSpec, msg: func.ServiceBusMessage) -> IncomingMessage:
    return IncomingMessage(
        message_id=str(msg.message_id or ""),
        topic=module.subscribes_to,
        subscription=module.name,
        body=msg.get_body(),
        delivery_count=int(msg.delivery_count or 1),
    )


def handle(module: ModuleSpec, msg: func.ServiceBusMessage) -> None:
    """Dispatch a message; returning completes it, raising leaves it to be redelivered (see settlement)."""
    app = context.current()
    settle(app.dispatcher, app.providers.blob, incoming(module, msg))


def _dispatcher_for(module: ModuleSpec) -> Callable[[func.ServiceBusMessage], None]:
    def dispatch(msg: func.ServiceBusMessage) -> None:
        handle(module, msg)

    dispatch.__name__ = dispatch.__qualname__ = function_name(module.name)
    dispatch.__doc__ = f"Dispatch {module.subscribes_to!r} events to module {module.name!r}."
    return dispatch


def register(blueprint: func.Blueprint, module: ModuleSpec) -> None:
    decorate_name = blueprint.function_name(name=function_name(module.name))
    decorate_trigger = blueprint.service_bus_topic_trigger(
        arg_name=MESSAGE_ARG,
        topic_name=module.subscribes_to,
        subscription_name=module.name,
        connection=SERVICEBUS_CONNECTION,
        cardinality=func.Cardinality.ONE,
        # Pinned here too: settlement relies on the host completing a message when the function returns.
        auto_complete_messages=True,
    )
    decorate_name(decorate_trigger(_dispatcher_for(module)))


def build_blueprint(manifest: Manifest) -> func.Blueprint:
    blueprint = func.Blueprint()
    for module in manifest:
        register(blueprint, module)
    return blueprint
