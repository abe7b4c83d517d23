# The API server. Migrations run as a separate one-shot command (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY dispatch ./dispatch
COPY routing ./routing
COPY schedules ./schedules
COPY api ./api
COPY migrations ./migrations
COPY seed_data ./seed_data
RUN pip install . && rm -rf /src
# Compile the route search kernel once, into numba's on-disk cache inside the image.
RUN python -c "from routing.lns import warm_up; print(f'kernel compiled in {warm_up():.1f} s')"

RUN useradd --create-home --uid 10001 dispatch
USER dispatch
WORKDIR /home/dispatch

ENV DISPATCH_HOST=0.0.0.0 \
    DISPATCH_PORT=8000 \
    DISPATCH_ENVIRONMENT=production
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["dispatch", "serve"]
