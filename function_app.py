"""Ion's Azure Functions app (Python v2 programming model).

At indexing it reads the module manifest (ION_MODULES) and registers:
- one Service Bus topic trigger per module (`dispatch_<module>`), calling the shared Dispatcher;
- a timer-triggered reconciler (`reconcile`, schedule ION_RECONCILE_SCHEDULE);
- an HTTP-triggered submit endpoint (`submit`, POST /api/events, function-level auth).
A bad manifest fails indexing with the file, the entry and the field named.
"""

import azure.functions as func

from dispatcher_functions import reconciler, servicebus_dispatch, submit
from dispatcher_functions.app_settings import load_app_manifest

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

app.register_functions(servicebus_dispatch.build_blueprint(load_app_manifest()))
app.register_functions(reconciler.build_blueprint())
app.register_functions(submit.build_blueprint())
