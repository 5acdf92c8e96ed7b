# Image for one module of the media example (splitter, classifier or captioner): stdlib Python only.
# Build from the repository root, once per module:
#   docker build -f examples/images/media.Dockerfile --build-arg MODULE=classifier \
#     -t myregistry.azurecr.io/ion-media-classifier:1 examples/media
FROM python:3.11-slim

ARG MODULE
RUN test -n "$MODULE" || (echo "build with --build-arg MODULE=splitter|classifier|captioner" && false)

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app
COPY ${MODULE}/ ${MODULE}/

# Not root. The module writes only under SIDECAR_BASE_DIR (/ion), a volume shared with the sidecar.
RUN useradd --system --uid 10002 --no-create-home module
USER 10002

# The manifest's `command` (e.g. ["python", "classifier/main.py"]) is run from /app; this is the
# default when the manifest gives none.
ENV ION_MODULE_SCRIPT=${MODULE}/main.py
CMD ["sh", "-c", "exec python \"$ION_MODULE_SCRIPT\""]
