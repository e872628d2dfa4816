# The gateway: FastAPI + PyAV, no model code. Slim, non-root, no compilers in the final stage.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY wire wire
COPY gateway gateway
COPY handlers handlers
COPY clients clients
# hadolint ignore=DL3013
RUN pip install --no-compile .

FROM python:3.11-slim
# libportaudio2 only matters where MIC_TRAINING_ENABLED=true on a host with a capture device
RUN apt-get update \
    && apt-get install -y --no-install-recommends libportaudio2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home audiocore \
    && mkdir -p /data/files && chown audiocore /data/files
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    STORAGE_DIR=/data/files
USER 10001
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["python", "-m", "gateway"]
