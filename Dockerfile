# Lotsen as a container: python:3.11-slim, a non-root user, everything that changes in /data.
#
#   docker build -t lotsen .
#   docker run -d --name lotsen -v lotsen-data:/data --env-file lotsen.env lotsen
#
# /data holds the database (LOTSEN_DB) and, after `lotsen initiera /data/region`, the
# region's own knowledge base and contacts (LOTSEN_KNOWLEDGE, LOTSEN_CONTACTS).
# Without them the copy built into the image is used. See docs/drift.md.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY contacts.yaml ./contacts.yaml
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOTSEN_DB=/data/lotsen.sqlite3 \
    LOTSEN_LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin lotsen \
    && mkdir -p /data \
    && chown lotsen:lotsen /data
USER lotsen
WORKDIR /data
VOLUME ["/data"]
# Long polling needs no open port; webhook mode listens on 8443 (see deploy/compose.webhook.yaml).
EXPOSE 8443
# Healthy = a fresh heartbeat from the running bot and a writable database.
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 CMD ["lotsen", "halsa"]
# SIGTERM (docker stop) lets Lotsen finish the update in hand; give it the time: docker stop -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["lotsen"]
CMD ["kor"]
