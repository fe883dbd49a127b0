"""Fixtures: a real `sealdb serve` process on an ephemeral port, boto3 clients and the
aws CLI pointed at it, with real SigV4 credentials."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
ACCESS_KEY = "AKIDSEALDBTEST0000001"
SECRET_KEY = "sealdbTestSecretKey0000000000000000000000"
REGION = "us-east-1"


def policy(*statements):
    """An IAM policy document of `statements`, as JSON text."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def eventually(check, what, timeout=60, interval=0.1):
    """Polls `check` until it returns a true value (no timing is asserted); a ClientError
    counts as not yet."""
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except ClientError as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what}: still {last!r}")


def sealdb_bin():
    return os.environ.get("SEALDB_BIN", str(REPO / "target" / "debug" / "sealdb"))


class Server:
    """One server process on its own data dir."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = pathlib.Path(data_dir)
        self.extra_args = list(extra_args)
        self.proc = None
        self.endpoint = None

    def start(self):
        env = dict(os.environ, SEALDB_ACCESS_KEY_ID=ACCESS_KEY, SEALDB_SECRET_ACCESS_KEY=SECRET_KEY)
        self.proc = subprocess.Popen(
            [sealdb_bin(), "serve", *([] if "--listen" in self.extra_args else ["--listen", "127.0.0.1:0"]),
             "--data-dir", str(self.data_dir), *self.extra_args],
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            env=env,
            text=True,
        )
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                if line.startswith("sealdb listening on "):
                    self.endpoint = line.split(" on ", 1)[1].strip()
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 30
        while not found.wait(0.1) and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sealdb exited with {self.proc.returncode}")
        if not found.is_set():
            self.kill()
            raise RuntimeError("sealdb did not start")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def client(self, service="dynamodb", key=ACCESS_KEY, secret=SECRET_KEY, region=REGION):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 1}),
        )

    def cli_env(self):
        return dict(
            os.environ,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )


@pytest.fixture(scope="session")
def server():
    tmp = tempfile.mkdtemp(prefix="sealdb-py-")
    s = Server(pathlib.Path(tmp) / "data").start()
    yield s
    s.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own, for tests that stop or kill it."""
    s = Server(tmp_path / "data")
    yield s
    s.kill()


@pytest.fixture
def gt_server(tmp_path):
    """A server of the test's own for the global-table tests (both versions): its regions
    and replicas are the test's alone; keys are re-checked and TTL swept every second."""
    s = Server(tmp_path / "data", extra_args=["--key-check-interval-secs", "1", "--ttl-sweep-interval", "1"]).start()
    yield s
    s.kill()


@pytest.fixture
def ddb(server):
    return server.client()


@pytest.fixture
def aws_cli(server):
    """Runs `aws --endpoint-url ... <args>` and returns the parsed JSON (or None)."""
    exe = shutil.which("aws", path=os.path.dirname(sys.executable)) or "aws"

    def run(*args, check=True):
        p = subprocess.run(
            [exe, "--endpoint-url", server.endpoint, "--output", "json", *args],
            capture_output=True,
            text=True,
            env=server.cli_env(),
            timeout=120,
        )
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        if not check:
            return p
        return json.loads(p.stdout) if p.stdout.strip() else None

    return run


@pytest.fixture
def table(ddb):
    """Creates a uniquely named pk/sk table and deletes it afterwards."""
    names = []

    def make(sort_type="S", **extra):
        name = "t" + uuid.uuid4().hex[:12]
        attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        if sort_type:
            attrs.append({"AttributeName": "sk", "AttributeType": sort_type})
            keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=attrs,
            KeySchema=keys,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        names.append(name)
        return name

    yield make
    for n in names:
        try:
            ddb.delete_table(TableName=n)
        except ddb.exceptions.ResourceNotFoundException:
            pass
