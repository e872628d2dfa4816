# TorchServe with the three handlers and their weights, built into the image: nothing downloads at start.
# GPU (default): CUDA runtime base, PyPI's CUDA build of torch. CPU: --build-arg BASE_IMAGE=ubuntu:22.04
ARG BASE_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv openjdk-17-jre-headless curl libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv \
    && useradd --system --uid 10002 --home-dir /home/model-server --create-home model-server
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 LOG_LOCATION=/home/model-server/logs METRICS_LOCATION=/home/model-server/logs
# OpenMP threads of a worker that has finished sleep instead of spinning: two whisper workers share the
# cores, and a spinning one slowed the other (README, "Two whisper workers").
ENV OMP_WAIT_POLICY=PASSIVE
WORKDIR /home/model-server
COPY pyproject.toml README.md ./
COPY wire wire
COPY gateway gateway
COPY clients clients
COPY ts_gate ts_gate
COPY handlers handlers
COPY model-store/build.py model-store/build.py
COPY model-store/config.properties model-store/config.properties
COPY docker/torchserve.properties /tmp/container.properties
# Install (versions pinned in pyproject.toml), assemble the sha256-checked weights into the archives,
# then drop the assembly cache.
# hadolint ignore=DL3013
RUN pip install --no-compile ".[serve]" \
    && cat /tmp/container.properties >> model-store/config.properties \
    && python model-store/build.py \
    && rm -rf model-store/weights model-store/.staging \
    && mkdir -p logs && chown -R model-server logs
USER 10002
EXPOSE 8080 8082
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 CMD ["curl", "-fsS", "http://127.0.0.1:8080/ping"]
# ts_gate (port 8080, TS_GATE_TOKEN required) runs TorchServe as its child and ends with it. TorchServe's
# own token keys are random per start and expire, so they cannot come from a Secret: the gate is the
# token check. The model list comes from model-store/build.py (MODELS), the one place it is kept.
CMD ["sh", "-c", "exec python -m ts_gate -- torchserve --start --foreground --ncs --disable-token-auth --model-store model-store --ts-config model-store/config.properties --models $(python model-store/build.py --list)"]
