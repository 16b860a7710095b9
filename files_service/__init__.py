"""files_service: signed, expiring download URLs for files in object storage."""
