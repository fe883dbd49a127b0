"""A full disk: the data dir on a small tmpfs, filled to the last byte by a ballast file.
Writes then fail with InternalServerError, reads keep working, nothing is corrupted
(`sealdb verify` after), and writes succeed again once the ballast is gone. Skipped, with
the reason printed, only where a tmpfs cannot be mounted (not root, no CAP_SYS_ADMIN)."""

import os
import pathlib
import subprocess
import uuid

import botocore.exceptions
import pytest

from conftest import Server, sealdb_bin

SIZE_MB = 96


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        reason = f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}"
        print(reason)
        pytest.skip(reason)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: pathlib.Path):
    """Writes zeros into `path` until the file system has no byte left."""
    block = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        small = b"\0" * 4096
        try:
            while True:
                f.write(small)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def code(e):
    return e.response["Error"]["Code"]


def test_full_disk_fails_writes_keeps_reads_and_recovers(small_disk):
    data = small_disk / "data"
    server = Server(data).start()
    try:
        ddb = server.client()
        name = "disk-" + uuid.uuid4().hex[:8]
        ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        acknowledged = {}
        for i in range(20):
            ddb.put_item(TableName=name, Item={"p": {"S": f"k{i}"}, "v": {"S": f"v{i}" * 100}})
            acknowledged[f"k{i}"] = f"v{i}" * 100

        ballast = small_disk / "ballast"
        fill(ballast)
        st = os.statvfs(small_disk)
        assert st.f_bavail * st.f_frsize < 64 * 1024, "the disk is not full"
        # Writes fail with InternalServerError (as DynamoDB answers a server-side fault),
        # until one fails: SQLite may still fit a first write into pages it holds.
        failures = 0
        for i in range(200):
            key, value = f"full{i}", "x" * 30_000
            try:
                ddb.put_item(TableName=name, Item={"p": {"S": key}, "v": {"S": value}})
                acknowledged[key] = value
            except botocore.exceptions.ClientError as e:
                assert code(e) == "InternalServerError", e.response
                failures += 1
                if failures >= 3:
                    break
        assert failures >= 3, "writes kept succeeding on a full disk"
        # Reads keep working, and every acknowledged write is there.
        for key, value in acknowledged.items():
            item = ddb.get_item(TableName=name, Key={"p": {"S": key}}, ConsistentRead=True)["Item"]
            assert item["v"]["S"] == value
        scanned = ddb.scan(TableName=name, ConsistentRead=True)["Items"]
        assert {i["p"]["S"] for i in scanned} == set(acknowledged)
        assert "TableNames" in ddb.list_tables()

        # Space returns: writes succeed again on the same server.
        ballast.unlink()
        for i in range(5):
            ddb.put_item(TableName=name, Item={"p": {"S": f"after{i}"}, "v": {"S": "y" * 1000}})
            acknowledged[f"after{i}"] = "y" * 1000
        ddb.update_item(TableName=name, Key={"p": {"S": "k0"}}, UpdateExpression="SET n = :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
    finally:
        server.stop()

    # Nothing corrupted: every page, key and record checks out, and after a restart
    # every acknowledged write is present.
    verify = subprocess.run([sealdb_bin(), "verify", "--data-dir", str(data)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    server = Server(data).start()
    try:
        ddb = server.client()
        got = {i["p"]["S"]: i["v"]["S"] for i in ddb.scan(TableName=name, ConsistentRead=True)["Items"]}
        assert got == acknowledged
        assert ddb.get_item(TableName=name, Key={"p": {"S": "k0"}})["Item"]["n"] == {"N": "1"}
    finally:
        server.stop()
