"""The soak test (scripts/soak): see the wrapper for what it does and how to run it."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import boto3
from botocore.config import Config

AKID = "AKIDSEALDBBENCH000001"
SECRET = "sealdbBenchSecret000000000000000000000000"
REGION = "us-east-1"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client(endpoint, service="dynamodb"):
    # No retries: every failure is seen and counted, none hidden by a retry.
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=120, connect_timeout=10)
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=AKID,
                        aws_secret_access_key=SECRET, config=cfg)


def start_server(binary, data):
    env = dict(os.environ, SEALDB_ACCESS_KEY_ID=AKID, SEALDB_SECRET_ACCESS_KEY=SECRET)
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for line in p.stdout:
        if line.startswith("sealdb listening on "):
            endpoint = line.split("sealdb listening on ", 1)[1].strip()
            # Keep draining stdout so the server never blocks on it.
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, endpoint
    raise SystemExit("the server did not start")


def bench(binary, endpoint, pid, workers, seconds, keep=False, preload=None):
    cmd = [binary, "bench", "--endpoint", endpoint, "--server-pid", str(pid), "--phases", "mixed",
           "--workers", str(workers), "--duration", str(seconds), "--json", "--quiet",
           "--preload", str(preload or max(2000, 25 * workers)),
           "--access-key-id", AKID, "--secret-access-key", SECRET]
    if keep:
        cmd.append("--keep-table")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def calibrate(binary, endpoint, pid):
    results = []
    for w in (1, 2, 4, 8, 16, 32, 64):
        out = bench(binary, endpoint, pid, w, 8).communicate()[0]
        phase = json.loads(out)["endpoints"][0]["phases"][0]
        results.append((w, phase["ops_per_sec"], phase["error_count"]))
        log(f"calibration: {w} workers: {phase['ops_per_sec']:.0f} ops/s, {phase['error_count']} errors")
    best = max(r[1] for r in results)
    chosen = next(w for w, ops, _ in results if ops >= 0.95 * best)
    return chosen, results


def wait_active(ddb, table, index=None, timeout=1800):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = ddb.describe_table(TableName=table)["Table"]
        if index:
            gsis = {g["IndexName"]: g["IndexStatus"] for g in t.get("GlobalSecondaryIndexes", [])}
            if gsis.get(index) == "ACTIVE":
                return
        elif t["TableStatus"] == "ACTIVE":
            return
        time.sleep(1)
    raise AssertionError(f"{table} {index or ''} not ACTIVE after {timeout} s")


class Tracked:
    """Writes items of its own into the bench's table (pk soak-<i>, never touched by the
    bench) and records each acknowledged one; every fifth is then updated, every seventh
    deleted, so the final contents are known exactly."""

    def __init__(self, endpoint, table):
        self.ddb = client(endpoint)
        self.table = table
        self.expected = {}
        self.failures = []
        self.ops = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def snapshot(self):
        with self.lock:
            return dict(self.expected)

    def run(self):
        i = 0
        while not self.stop.is_set():
            key = {"pk": {"S": f"soak-{i}"}, "sk": {"N": "0"}}
            try:
                self.ddb.put_item(TableName=self.table, Item={**key, "v": {"S": f"put-{i}"}, "n": {"N": str(10**9 + i)}})
                with self.lock:
                    self.expected[f"soak-{i}"] = f"put-{i}"
                if i % 5 == 0:
                    self.ddb.update_item(TableName=self.table, Key=key, UpdateExpression="SET v = :v",
                                         ExpressionAttributeValues={":v": {"S": f"upd-{i}"}})
                    with self.lock:
                        self.expected[f"soak-{i}"] = f"upd-{i}"
                if i % 7 == 0:
                    self.ddb.delete_item(TableName=self.table, Key=key)
                    with self.lock:
                        self.expected[f"soak-{i}"] = None
                self.ops += 1
            except Exception as e:  # counted: the soak allows no failed request
                self.failures.append(f"soak-{i}: {e!r}")
            i += 1
            time.sleep(0.02)


def contents(ddb, table):
    got = {}
    kwargs = {"TableName": table, "ConsistentRead": True, "FilterExpression": "begins_with(pk, :p)",
              "ExpressionAttributeValues": {":p": {"S": "soak-"}}}
    while True:
        page = ddb.scan(**kwargs)
        for item in page["Items"]:
            got[item["pk"]["S"]] = item["v"]["S"]
        if "LastEvaluatedKey" not in page:
            return got
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def check(expected, got, what):
    want = {k: v for k, v in expected.items() if v is not None}
    missing = [k for k in want if k not in got]
    wrong = [k for k in want if k in got and got[k] != want[k]]
    undeleted = [k for k, v in expected.items() if v is None and k in got]
    problems = {"missing": missing[:10], "wrong": wrong[:10], "undeleted": undeleted[:10]}
    ok = not (missing or wrong or undeleted)
    log(f"{what}: {len(want)} acknowledged items expected, {len(got)} found: {'ok' if ok else problems}")
    return ok, problems


def main():
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    out = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else ROOT / "target" / "soak")
    out.mkdir(parents=True, exist_ok=True)
    binary = os.environ.get("SEALDB_BIN", str(ROOT / "target" / "debug" / "sealdb"))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="sealdb-soak-"))
    server, endpoint = start_server(binary, tmp / "data")
    report = {"minutes": minutes, "binary": binary, "started": time.strftime("%FT%TZ", time.gmtime())}
    ok = True
    try:
        if os.environ.get("SOAK_WORKERS"):
            workers, calib = int(os.environ["SOAK_WORKERS"]), []
        else:
            workers, calib = calibrate(binary, endpoint, server.pid)
        report["calibration"] = [{"workers": w, "ops_per_sec": o, "errors": e} for w, o, e in calib]
        report["workers"] = workers
        log(f"soak: {workers} workers for {minutes} min")
        seconds = minutes * 60
        load = bench(binary, endpoint, server.pid, workers, seconds, keep=True, preload=10000)
        ddb, kms = client(endpoint), client(endpoint, "kms")
        # The bench's table, once it exists (its name carries the bench's pid).
        table = f"sealdb-bench-{load.pid}"
        while True:
            try:
                wait_active(ddb, table)
                break
            except ddb.exceptions.ResourceNotFoundException:
                time.sleep(0.5)
        tracked = Tracked(endpoint, table)
        writer = threading.Thread(target=tracked.run, daemon=True)
        writer.start()
        t0 = time.monotonic()
        memory = []
        events = []
        steps = [
            (0.30, "key switch"),
            (0.40, "GSI creation"),
            (0.50, "backup"),
            (0.60, "restore"),
        ]
        backup_arn, at_backup = None, None
        next_sample = 0.0
        while load.poll() is None:
            now = time.monotonic() - t0
            if now >= next_sample:
                kb = rss_kb(server.pid)
                memory.append({"minute": round(now / 60, 1), "rss_mb": round(kb / 1024, 1)})
                log(f"rss {kb / 1024:.1f} MB at {now / 60:.1f} min")
                next_sample += 60
            if steps and now >= steps[0][0] * seconds:
                _, what = steps.pop(0)
                started = time.monotonic()
                try:
                    if what == "key switch":
                        key = kms.create_key(Description="soak")["KeyMetadata"]["Arn"]
                        ddb.update_table(TableName=table, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
                        wait_active(ddb, table)
                    elif what == "GSI creation":
                        ddb.update_table(TableName=table, AttributeDefinitions=[{"AttributeName": "n", "AttributeType": "N"}],
                                         GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by_n", "KeySchema": [{"AttributeName": "n", "KeyType": "HASH"}],
                                                                                  "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
                        wait_active(ddb, table, "by_n")
                    elif what == "backup":
                        at_backup = tracked.snapshot()
                        backup_arn = ddb.create_backup(TableName=table, BackupName="soak")["BackupDetails"]["BackupArn"]
                    elif what == "restore":
                        ddb.restore_table_from_backup(TargetTableName="soak-restored", BackupArn=backup_arn)
                        wait_active(ddb, "soak-restored")
                    events.append({"what": what, "at_min": round(now / 60, 2), "seconds": round(time.monotonic() - started, 1)})
                    log(f"{what}: done in {time.monotonic() - started:.1f} s")
                except Exception as e:
                    ok = False
                    events.append({"what": what, "at_min": round(now / 60, 2), "error": repr(e)})
                    log(f"{what}: FAILED {e!r}")
            time.sleep(1)
        memory.append({"minute": round((time.monotonic() - t0) / 60, 1), "rss_mb": round(rss_kb(server.pid) / 1024, 1)})
        tracked.stop.set()
        writer.join()
        result = json.loads(load.stdout.read())
        phase = result["endpoints"][0]["phases"][0]
        report.update(events=events, memory=memory, bench={k: phase[k] for k in ("ops", "ops_per_sec", "error_count", "errors", "latency_ms", "server_peak_rss_bytes")},
                      tracked={"ops": tracked.ops, "failures": tracked.failures[:20], "failure_count": len(tracked.failures)})
        log(f"bench: {phase['ops']} requests, {phase['ops_per_sec']:.0f} ops/s, errors {phase['errors']}")
        log(f"tracked writer: {tracked.ops} rounds, {len(tracked.failures)} failures")
        if phase["error_count"] or tracked.failures or load.returncode:
            ok = False
        good, problems = check(tracked.snapshot(), contents(ddb, table), "final contents")
        report["final_check"] = problems
        ok = ok and good
        if at_backup is not None and any(e["what"] == "restore" and "error" not in e for e in events):
            # Acknowledged before the backup started and never deleted: in the restored
            # table (their later updates may or may not be: they raced the backup).
            restored = contents(ddb, "soak-restored")
            final = tracked.snapshot()
            early = {k for k, v in at_backup.items() if v is not None and final.get(k) is not None}
            missing = [k for k in early if k not in restored]
            report["restore_check"] = {"expected_at_least": len(early), "found": len(restored), "missing": missing[:10]}
            log(f"restored table: {len(early)} items acknowledged before the backup, {len(missing)} missing")
            ok = ok and not missing
        else:
            ok = False
        rss = [m["rss_mb"] for m in memory]
        report["rss_mb"] = {"first": rss[0], "min": min(rss), "max": max(rss), "last": rss[-1]}
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    report["ok"] = ok
    (out / "soak.json").write_text(json.dumps(report, indent=1))
    log(f"soak {'passed' if ok else 'FAILED'}; report in {out / 'soak.json'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
