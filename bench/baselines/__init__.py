"""The baselines every figure is a ratio to, built and run by the harness itself:

- :mod:`.signing`       raw HMAC-SHA256 over the token's bytes (the floor for a signature) and a
                        bare itsdangerous ``URLSafeTimedSerializer``
- :mod:`.presign`       boto3 ``generate_presigned_url`` (what S3 users do)
- :mod:`.naive_flask`   a Flask app that checks an itsdangerous token and calls ``send_file``
                        (what a team would write in an afternoon), under the service's gunicorn
                        settings (:mod:`.naive_gunicorn_conf`)
- :mod:`.nginx_conf`    nginx with ``secure_link`` and ``sendfile`` (the practical limit of the
                        machine), and the nginx that fronts the service in ``accel`` mode
- :mod:`.boto3_direct`  boto3 reading an object straight from the S3 server
"""
