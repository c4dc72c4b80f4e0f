"""The Python side of tests/python_interop.rs.

Reads one JSON request on stdin, answers one JSON object on stdout, using the
real `cryptography` package. Exits with status 3 if it is not installed.

Request:  {"key": str, "encrypt": [b64 message], "decrypt": [token],
           "verdicts": [token], "ttl_checks": [[token, ttl]]}
Response: {"version": str, "tokens": [token], "plaintexts": [b64 message],
           "verdicts": [bool], "ttl_verdicts": [bool]}
"""
import base64
import json
import sys

try:
    import cryptography
    from cryptography.fernet import Fernet, InvalidToken
except ImportError:
    sys.stderr.write("python3 cannot import cryptography (pip install cryptography)\n")
    sys.exit(3)


def accepts(f, token, ttl=None):
    try:
        if ttl is None:
            f.decrypt(token)
        else:
            f.decrypt(token, ttl=ttl)
        return True
    except (InvalidToken, ValueError):
        return False


request = json.load(sys.stdin)
f = Fernet(request["key"])
response = {
    "version": cryptography.__version__,
    "tokens": [f.encrypt(base64.b64decode(m)).decode() for m in request["encrypt"]],
    "plaintexts": [base64.b64encode(f.decrypt(t)).decode() for t in request["decrypt"]],
    "verdicts": [accepts(f, t) for t in request["verdicts"]],
    "ttl_verdicts": [accepts(f, t, ttl) for t, ttl in request["ttl_checks"]],
}
json.dump(response, sys.stdout)
