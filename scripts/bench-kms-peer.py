#!/usr/bin/env python3
"""Side-by-side figures for the key service and for SSE tables: sealdb against moto_server
on the same machine, the same boto3 client code, interleaved rounds so machine noise hits
both. Measures client-observed latency per call, sequential, one connection.
Usage: SEALDB_BIN=target/release/sealdb .venv/bin/python scripts/bench-kms-peer.py [N]"""

import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from conftest import Server  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
moto = subprocess.Popen(["moto_server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(3)
sealdb = Server(pathlib.Path(tempfile.mkdtemp(prefix="sealdb-kmsbench-")) / "data").start()


def moto_client(service):
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="y",
                        config=Config(retries={"max_attempts": 1}))


peers = {"sealdb": sealdb.client, "moto": moto_client}
setup = {}
for name, client in peers.items():
    kms, ddb = client("kms"), client("dynamodb")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x" * 32, EncryptionContext={"t": "1"})["CiphertextBlob"]
    ddb.create_table(TableName="sse", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
    ddb.create_table(TableName="streamed", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    streams = client("dynamodbstreams")
    arn = ddb.describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    setup[name] = (kms, ddb, key, blob, streams, arn, shard)

ops = {
    "GenerateDataKey": lambda kms, ddb, key, blob, streams, arn, shard, i: kms.generate_data_key(KeyId=key, KeySpec="AES_256"),
    "Decrypt": lambda kms, ddb, key, blob, streams, arn, shard, i: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"t": "1"}),
    "PutItem (KMS table)": lambda kms, ddb, key, blob, streams, arn, shard, i: ddb.put_item(
        TableName="sse", Item={"pk": {"S": f"k{i}"}, "v": {"S": "x" * 1000}}),
    "GetItem (KMS table)": lambda kms, ddb, key, blob, streams, arn, shard, i: ddb.get_item(TableName="sse", Key={"pk": {"S": f"k{i}"}}),
    "PutItem (stream table)": lambda kms, ddb, key, blob, streams, arn, shard, i: ddb.put_item(
        TableName="streamed", Item={"pk": {"S": f"k{i % 50}"}, "v": {"S": f"{i}" * 100}}),
    "GetRecords (100)": lambda kms, ddb, key, blob, streams, arn, shard, i: streams.get_records(
        ShardIterator=streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"], Limit=100),
}
results = {(op, peer): [] for op in ops for peer in peers}
rounds = 5
for r in range(rounds):
    for op, fn in ops.items():
        for peer in peers:
            args = setup[peer]
            for i in range(r * n // rounds, (r + 1) * n // rounds):
                t0 = time.perf_counter()
                fn(*args, i)
                results[(op, peer)].append(time.perf_counter() - t0)

print(f"{n} calls per operation and server, sequential, one connection; median / p99 in ms")
for op in ops:
    s, m = results[(op, "sealdb")], results[(op, "moto")]
    q = lambda v: (statistics.median(v) * 1000, sorted(v)[int(len(v) * 0.99) - 1] * 1000)  # noqa: E731
    (sm, s99), (mm, m99) = q(s), q(m)
    print(f"{op:24} sealdb {sm:6.2f} / {s99:6.2f}   moto {mm:6.2f} / {m99:6.2f}   moto/sealdb median {mm / sm:5.1f}x")
sealdb.kill()
moto.kill()
