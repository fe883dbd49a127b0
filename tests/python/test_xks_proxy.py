"""`sealdb xks-proxy` (issue 15): the AWS XKS proxy API over TLS in front of a SoftHSM2
token, spoken to as KMS speaks to it (SigV4 for kms-xks-proxy, the specification's JSON
and error names), including bad signatures, expired requests, wrong key ids and paths.
The fixtures here are also those of test_external_key_stores.py."""

import base64
import datetime
import json
import os
import pathlib
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION, sealdb_bin

MODULES = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
]
PIN = "xks-user-pin-1"
ACCESS_KEY_ID = "AKIAXKSSEALDBTEST2345"
SECRET = "xksSecretForSealdbTests0123456789abcdefGHIJ+/="
OTHER_SECRET = "anotherXksSecretForSealdbTests0123456789abcd=="
PATH = "/kms/xks/v1"
KEY = "ext-key-1"
DISABLED = "ext-key-off"


def module_path():
    for m in MODULES:
        if pathlib.Path(m).exists():
            return m
    raise AssertionError("SoftHSM2 is not installed (Debian package softhsm2)")


def make_ca_and_cert(d):
    """A test CA and a certificate it signed for 127.0.0.1."""
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    ca_key, ca, key, csr, cert, ext = (d / n for n in ("ca.key", "ca.pem", "px.key", "px.csr", "px.pem", "ext"))
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(ca_key),
        "-out", str(ca), "-days", "1", "-subj", "/CN=sealdb xks test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
        "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "1", "-extfile", str(ext))
    return ca, cert, key


def secret_file(d, name, text):
    p = d / name
    p.write_text(text)
    p.chmod(0o600)
    return p


class Proxy:
    """One `sealdb xks-proxy` process; restarted on the same port."""

    def __init__(self, d, env, cert, key):
        self.d, self.env, self.cert, self.key = d, env, cert, key
        self.port = 0
        self.proc = None

    def start(self, secret=SECRET):
        sf = secret_file(self.d, "xks-secret", secret)
        pin = secret_file(self.d, "pin", PIN)
        self.proc = subprocess.Popen(
            [sealdb_bin(), "xks-proxy", "--listen", f"127.0.0.1:{self.port}",
             "--tls-cert", str(self.cert), "--tls-key", str(self.key), "--uri-path", PATH,
             "--access-key-id", ACCESS_KEY_ID, "--secret-access-key-file", str(sf),
             "--pkcs11-module", module_path(), "--pkcs11-token-label", "sealdb-xks",
             "--pkcs11-pin-file", str(pin), "--create-key", KEY, "--create-key", DISABLED,
             "--disabled-key", DISABLED],
            stdout=subprocess.PIPE, stderr=sys.stderr, env=self.env, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("sealdb xks-proxy listening on https://"), line
        self.port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    @property
    def endpoint(self):
        return f"https://127.0.0.1:{self.port}"


@pytest.fixture
def xks(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "sealdb-xks",
                    "--pin", PIN, "--so-pin", "xks-so-pin-1"], check=True, capture_output=True, env=env)
    ca, cert, key = make_ca_and_cert(tmp_path)
    proxy = Proxy(tmp_path, env, cert, key).start()
    yield proxy, ca, tmp_path
    proxy.stop()


def signed(proxy, ca, path, body, secret=SECRET, service="kms-xks-proxy", when=None, monkeypatch=None):
    """POSTs `body` (JSON) to the proxy, signed as KMS signs; returns (status, JSON)."""
    url = proxy.endpoint + path
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    req = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    if when is not None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)
    SigV4Auth(Credentials(ACCESS_KEY_ID, secret), service, REGION).add_auth(req)
    if when is not None:
        monkeypatch.undo()
    ctx = ssl.create_default_context(cafile=str(ca))
    r = urllib.request.Request(url, data=data, headers=dict(req.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(r, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def md(op="Encrypt"):
    return {"awsPrincipalArn": "arn:aws:iam::000000000000:root", "kmsOperation": op,
            "kmsRequestId": "4112f4d6-db54-4af4-ae30-c55a22a8dfae",
            "kmsKeyArn": "arn:aws:kms:us-east-1:000000000000:key/x"}


def b64(b):
    return base64.b64encode(b).decode()


def test_proxy_answers_the_specification_over_tls(xks, monkeypatch):
    proxy, ca, _ = xks
    st, h = signed(proxy, ca, PATH + "/health",
                   {"requestMetadata": {"kmsRequestId": "r1", "kmsOperation": "KmsHealthCheck"}})
    assert st == 200, h
    assert h["xksProxyFleetSize"] >= 1 and h["ekmFleetDetails"][0]["healthStatus"] == "ACTIVE"
    st, m = signed(proxy, ca, f"{PATH}/keys/{KEY}/metadata", {"requestMetadata": md("CreateKey")})
    assert (st, m) == (200, {"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "ENABLED"})
    st, m = signed(proxy, ca, f"{PATH}/keys/{DISABLED}/metadata", {"requestMetadata": md("CreateKey")})
    assert st == 200 and m["keyStatus"] == "DISABLED"

    aad = b"sealdb aad"
    st, enc = signed(proxy, ca, f"{PATH}/keys/{KEY}/encrypt",
                     {"requestMetadata": md(), "plaintext": b64(b"hello xks"), "encryptionAlgorithm": "AES_GCM",
                      "additionalAuthenticatedData": b64(aad)})
    assert st == 200, enc
    assert len(base64.b64decode(enc["initializationVector"])) == 12
    assert len(base64.b64decode(enc["authenticationTag"])) == 16
    assert base64.b64decode(enc["ciphertext"]) != b"hello xks"
    dec_req = {"requestMetadata": md("Decrypt"), "encryptionAlgorithm": "AES_GCM",
               "ciphertext": enc["ciphertext"], "initializationVector": enc["initializationVector"],
               "authenticationTag": enc["authenticationTag"], "additionalAuthenticatedData": b64(aad)}
    st, dec = signed(proxy, ca, f"{PATH}/keys/{KEY}/decrypt", dec_req)
    assert st == 200 and base64.b64decode(dec["plaintext"]) == b"hello xks"

    def error(st_body):
        st, body = st_body
        return st, body.get("errorName")

    assert error(signed(proxy, ca, f"{PATH}/keys/{KEY}/decrypt",
                        dict(dec_req, additionalAuthenticatedData=b64(b"other")))) == (400, "InvalidCiphertextException")
    assert error(signed(proxy, ca, f"{PATH}/keys/{KEY}/decrypt",
                        dict(dec_req, initializationVector=b64(b"short")))) == (400, "InvalidCiphertextException")
    assert error(signed(proxy, ca, f"{PATH}/keys/nope/metadata",
                        {"requestMetadata": md()})) == (404, "KeyNotFoundException")
    assert error(signed(proxy, ca, f"{PATH}/keys/{DISABLED}/encrypt",
                        {"requestMetadata": md(), "plaintext": b64(b"x"), "encryptionAlgorithm": "AES_GCM"})) \
        == (400, "InvalidStateException")
    assert error(signed(proxy, ca, f"{PATH}/keys/{KEY}/encrypt",
                        {"requestMetadata": md(), "plaintext": b64(b"x"), "encryptionAlgorithm": "RSA"})) \
        == (400, "ValidationException")
    assert error(signed(proxy, ca, f"{PATH}/keys/{KEY}/encrypt", b"{not json")) == (400, "ValidationException")
    assert error(signed(proxy, ca, "/other/kms/xks/v1/health",
                        {"requestMetadata": md()})) == (404, "InvalidUriPathException")
    # Bad SigV4: another secret, another service, a request signed ten minutes ago.
    assert error(signed(proxy, ca, PATH + "/health", {"requestMetadata": md()},
                        secret=OTHER_SECRET)) == (401, "AuthenticationFailedException")
    assert error(signed(proxy, ca, PATH + "/health", {"requestMetadata": md()},
                        service="kms")) == (401, "AuthenticationFailedException")
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    assert error(signed(proxy, ca, PATH + "/health", {"requestMetadata": md()}, when=old,
                        monkeypatch=monkeypatch)) == (401, "AuthenticationFailedException")
    # TLS only, and only to a client trusting the proxy's CA.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(urllib.request.Request(proxy.endpoint + PATH + "/health", data=b"{}"),
                               context=ssl.create_default_context(), timeout=10)


