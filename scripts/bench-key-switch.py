#!/usr/bin/env python3
"""Measures a table key switch (UpdateTable SSESpecification) on a table of N items:
how long the switch takes, that the table file is not rewritten, and the latency of
reads running during the switches. Usage: .venv/bin/python scripts/bench-key-switch.py [N]"""

import hashlib
import pathlib
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from conftest import Server  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
tmp = pathlib.Path(tempfile.mkdtemp(prefix="sealdb-switch-"))
s = Server(tmp / "data").start()
ddb, kms = s.client(), s.client("kms")
k1 = kms.create_key()["KeyMetadata"]["Arn"]
k2 = kms.create_key()["KeyMetadata"]["Arn"]
ddb.create_table(TableName="big", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                 SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": k1})
t0 = time.time()
for i in range(0, n, 25):
    ddb.batch_write_item(RequestItems={"big": [{"PutRequest": {"Item": {"pk": {"S": f"k{j}"}, "v": {"S": "x" * 100}}}}
                                               for j in range(i, min(i + 25, n))]})
print(f"loaded {n} items in {time.time() - t0:.1f} s")
s.stop()
table_file = next((tmp / "data" / "tables").glob("*.db"))
before = hashlib.sha256(table_file.read_bytes()).hexdigest()
s.start()
ddb = s.client()
lat, stop = [], threading.Event()


def reader():
    c = s.client()
    i = 0
    while not stop.is_set():
        t = time.perf_counter()
        c.get_item(TableName="big", Key={"pk": {"S": f"k{i % n}"}})
        lat.append(time.perf_counter() - t)
        i += 7919


# Baseline: the same reads with no switch running, for the ratio.
th = threading.Thread(target=reader)
th.start()
time.sleep(2)
stop.set()
th.join()
base, lat, stop = sorted(lat), [], threading.Event()
th = threading.Thread(target=reader)
th.start()
time.sleep(0.5)
switches = []
for spec in ({"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": k2}, {"Enabled": True}, {"Enabled": False}):
    t = time.perf_counter()
    ddb.update_table(TableName="big", SSESpecification=spec)
    switches.append(time.perf_counter() - t)
    time.sleep(0.5)
stop.set()
th.join()
s.stop()
after = hashlib.sha256(table_file.read_bytes()).hexdigest()
lat.sort()
print("switch times (K1->K2, ->AWS managed, ->owned): " + ", ".join(f"{x * 1000:.1f} ms" for x in switches))
print(f"table file {table_file.stat().st_size} bytes, unchanged by the switches: {before == after}")
print(f"GetItem without switches: {len(base)} reads, p50 {statistics.median(base) * 1000:.2f} ms, "
      f"p99 {base[int(len(base) * 0.99)] * 1000:.2f} ms")
print(f"GetItem during switches: {len(lat)} reads, p50 {statistics.median(lat) * 1000:.2f} ms, "
      f"p99 {lat[int(len(lat) * 0.99)] * 1000:.2f} ms, max {lat[-1] * 1000:.2f} ms")
