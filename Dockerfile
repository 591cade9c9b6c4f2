# vidrag's app image: Streamlit on port 8501, models cached in /cache, the library in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIDRAG_DATA_DIR=/data \
    XDG_CACHE_HOME=/cache \
    HF_HOME=/cache/huggingface

RUN useradd --create-home --uid 1000 vidrag \
    && mkdir -p /data /cache /app \
    && chown vidrag:vidrag /data /cache

WORKDIR /app

# Dependencies first, in their own layer: a code change doesn't reinstall PyTorch.
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --no-cache-dir -r requirements.txt && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt

COPY --chown=vidrag:vidrag .streamlit ./.streamlit
COPY --chown=vidrag:vidrag pyproject.toml README.md requirements-dev.txt app.py ./
COPY --chown=vidrag:vidrag rag ./rag
COPY --chown=vidrag:vidrag ingest ./ingest
COPY --chown=vidrag:vidrag vidrag ./vidrag
# The package itself, with the `vidrag` command; its pins are installed above.
RUN pip install --no-cache-dir --no-deps .

USER vidrag
VOLUME ["/data", "/cache"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health')"

# Inside the container the server listens on all interfaces; compose publishes it on localhost.
CMD ["vidrag", "serve", "--host", "0.0.0.0", "--port", "8501"]
