"""Apache Airflow integration (extra `airflow`)."""
