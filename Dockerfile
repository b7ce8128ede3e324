# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 app
USER app

EXPOSE 8000
# A step's address names its cycle and step ids, up to 255 characters each:
# longer than gunicorn's default request line once percent-encoded.
CMD ["gunicorn", "syncstatus.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--limit-request-line", "8190", "--access-logfile", "-"]
