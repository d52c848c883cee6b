# syntax=docker/dockerfile:1
# Images for deploy/compose.yaml; build context: the repository root
# (provenant.Dockerfile.dockerignore keeps it to pyproject.toml, README.md and src/).
ARG PYTHON_VERSION=3.11
ARG AIRFLOW_VERSION=3.3.2
ARG MLFLOW_VERSION=3.17.2

# The API and web UI (`provenant serve`).
FROM python:${PYTHON_VERSION}-slim AS api
WORKDIR /opt/provenant
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir ".[s3,llm]" \
 && useradd --create-home --uid 50001 provenant \
 && mkdir -p /var/lib/provenant && chown provenant /var/lib/provenant
USER provenant
ENV PROVENANT_HOME=/var/lib/provenant
EXPOSE 8000
CMD ["provenant", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-mlflow-ui"]

# The MLflow tracking server: PostgreSQL backend store, S3 artifact store.
FROM python:${PYTHON_VERSION}-slim AS mlflow
ARG MLFLOW_VERSION
RUN pip install --no-cache-dir "mlflow==${MLFLOW_VERSION}" "psycopg[binary]" boto3
EXPOSE 5000

# Airflow (api-server, scheduler, dag-processor, Celery workers) with Provenant's DAGs.
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS airflow
ARG AIRFLOW_VERSION
COPY --chown=airflow:root pyproject.toml README.md /opt/provenant/
COPY --chown=airflow:root src /opt/provenant/src
# Naming apache-airflow again keeps pip from moving the image's Airflow to another release.
# The same pins as the tested venv (Makefile): the Celery provider 3.26.0 does not import
# with celery 5.7.0; asyncpg is Airflow 3's async driver for its PostgreSQL metadata DB.
RUN pip install --no-cache-dir "apache-airflow[celery,postgres,redis]==${AIRFLOW_VERSION}" \
        "celery==5.6.3" "asyncpg>=0.29" "/opt/provenant[s3,llm]"
# Airflow's default dags folder becomes provenant.airflow.DAGS_FOLDER, as installed.
RUN rm -rf /opt/airflow/dags \
 && ln -s "$(python -c 'from provenant.airflow import DAGS_FOLDER; print(DAGS_FOLDER)')" \
          /opt/airflow/dags
