# Otedama node image: `docker build -t otedama .`, then
#   docker run -p 3333:3333 -p 127.0.0.1:9333:9333 -v otedama:/var/lib/otedama otedama run
# (devnet; give OTEDAMA_NETWORK, OTEDAMA_BITCOIND, OTEDAMA_PAYOUT_ADDRESS for a real network).
# deploy/docker-compose.yml runs it with Prometheus and Grafana. docs/operations.md has the details.

FROM python:3.11-slim-bookworm AS build
# libp2p builds fastecdsa from source, which links GMP.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libgmp-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/otedama
COPY pyproject.toml README.md /src/
COPY sharechain /src/sharechain
COPY p2pool /src/p2pool
COPY miner /src/miner
COPY kernels /src/kernels
COPY bootstrap /src/bootstrap
RUN /opt/otedama/bin/pip install --no-cache-dir /src \
    && rm -rf /opt/otedama/lib/python3.11/site-packages/trio-stubs

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libgmp10 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/otedama --create-home --shell /usr/sbin/nologin otedama
COPY --from=build /opt/otedama /opt/otedama
ENV PATH=/opt/otedama/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OTEDAMA_HOME=/var/lib/otedama \
    OTEDAMA_API=0.0.0.0:9333 \
    NUMBA_CACHE_DIR=/var/lib/otedama/.numba-cache
USER otedama
WORKDIR /var/lib/otedama
VOLUME ["/var/lib/otedama"]
# Stratum (devnet default; 9332 on mainnet), the API and /metrics, P2P.
EXPOSE 3333 9333 9338
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import os, urllib.request; port = os.environ['OTEDAMA_API'].rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/api/health', timeout=4)"
ENTRYPOINT ["otedama"]
CMD ["run"]
