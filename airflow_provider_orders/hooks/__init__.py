"""One thin Airflow hook per vendor."""
