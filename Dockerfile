FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cos ./cos
COPY marketplace ./marketplace
COPY workorders ./workorders
COPY provisioning ./provisioning
COPY billing ./billing
COPY wholesale ./wholesale
RUN pip install --no-cache-dir .
COPY . .
RUN DEBUG=false SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "cos.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4"]
