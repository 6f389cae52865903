# drift-stream: the streamer, the dashboard and the example engines (compose.yaml).
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY streamer streamer
COPY subscribers subscribers
COPY localnet localnet
RUN pip install --no-cache-dir . && useradd --system --no-create-home drift
USER drift
ENTRYPOINT ["drift-stream"]
