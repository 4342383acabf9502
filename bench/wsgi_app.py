# The WSGI app bench/readiness.mjs runs under gunicorn.
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\n"]
