"""tests/api/client.py - one request to codeq-api as a codeQ client makes
it (urllib, JSON bodies, the test tokens "secret-NAME" of
tests/api/lib.sh), for the Python drivers of tests/api."""
import json
import urllib.error
import urllib.request


def request(url, token, method, path, body=None):
    """(status, json); urllib's own errors (refused, reset) propagate."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method, headers={
        "Authorization": "Bearer secret-" + token,
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
