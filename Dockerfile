# The demo as a container: CPU-only PyTorch, a non-root user (UID 1000, as Hugging Face
# Spaces require), serving on 0.0.0.0:7860. Only what the app needs is copied in: no
# training code, no datasets.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    CORRECTIONS_DIR=/home/user/corrections \
    MPLCONFIGDIR=/tmp/matplotlib

RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

# CPU wheels of the pinned torch/torchvision pair keep the image small (no CUDA libraries);
# then the rest of requirements.txt, without its torch and torchvision lines.
COPY requirements.txt .
RUN pip install --index-url https://download.pytorch.org/whl/cpu \
        "torch==$(grep -oP '^torch==\K.*' requirements.txt)" \
        "torchvision==$(grep -oP '^torchvision==\K.*' requirements.txt)" \
    && grep -vE '^(torch|torchvision)==' requirements.txt > /tmp/requirements-rest.txt \
    && pip install -r /tmp/requirements-rest.txt

COPY --chown=user:user app.py ./
COPY --chown=user:user classifier/ classifier/
COPY --chown=user:user web/ web/
COPY --chown=user:user checkpoints/ checkpoints/
COPY --chown=user:user examples/ examples/

USER 1000
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"]
CMD ["python", "app.py"]
