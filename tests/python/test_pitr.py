"""Point-in-time recovery over HTTP with boto3: UpdateContinuousBackups,
DescribeContinuousBackups and RestoreTableToPointInTime against a real server started
with `--pitr-latest-lag-secs 0` (AWS's 5-minute lag would make every restore wait).
A restore to a time between writes holds exactly the items of that moment, its indexes
included, whatever wrote them (item, batch and transaction writes); restores survive a
restart; the recovery history is never readable in the data dir."""

import json
import time
import uuid

import botocore.exceptions
import pytest

from conftest import Server


def start(tmp_path, *extra):
    return Server(tmp_path / "data", extra_args=["--pitr-latest-lag-secs", "0", *extra]).start()


def error(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def make_table(ddb, name):
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"},
                              {"AttributeName": "l", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        LocalSecondaryIndexes=[{"IndexName": "byl", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                  {"AttributeName": "l", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=[{"Key": "k", "Value": "v"}])


def item(pk, sk, g=None, l=None, v=None):
    it = {"pk": {"S": pk}, "sk": {"S": sk}}
    if g is not None:
        it["g"] = {"S": g}
    if l is not None:
        it["l"] = {"N": str(l)}
    if v is not None:
        it["v"] = {"S": v}
    return it


def contents(ddb, table):
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(((i["pk"]["S"], i["sk"]["S"]), i) for i in items)


def gsi(ddb, table, g):
    out = ddb.query(TableName=table, IndexName="byg", KeyConditionExpression="g = :g",
                    ExpressionAttributeValues={":g": {"S": g}})["Items"]
    return sorted((i["pk"]["S"], i["sk"]["S"]) for i in out)


def lsi(ddb, table, pk):
    out = ddb.query(TableName=table, IndexName="byl", KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": pk}})["Items"]
    return [(i["sk"]["S"], i["l"]["N"]) for i in out]


def moment():
    """A time strictly between the writes before and after it (ms clock)."""
    time.sleep(0.03)
    t = time.time()
    time.sleep(0.03)
    return t


def test_describe_and_update_continuous_backups(tmp_path):
    s = start(tmp_path)
    try:
        ddb = s.client()
        make_table(ddb, "ptab")
        d = ddb.describe_continuous_backups(TableName="ptab")["ContinuousBackupsDescription"]
        assert d == {"ContinuousBackupsStatus": "ENABLED",
                     "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}
        before = time.time()
        d = ddb.update_continuous_backups(
            TableName="ptab", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True,
                                                              "RecoveryPeriodInDays": 7})
        p = d["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert p["PointInTimeRecoveryStatus"] == "ENABLED" and p["RecoveryPeriodInDays"] == 7
        earliest = p["EarliestRestorableDateTime"].timestamp()
        assert before - 1 <= earliest <= time.time() + 1
        assert p["LatestRestorableDateTime"].timestamp() >= earliest
        # By ARN too; the period changes, the window's start does not.
        arn = ddb.describe_table(TableName="ptab")["Table"]["TableArn"]
        d = ddb.update_continuous_backups(
            TableName=arn, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        p2 = ddb.describe_continuous_backups(TableName=arn)["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"]
        assert p2["RecoveryPeriodInDays"] == 7
        assert p2["EarliestRestorableDateTime"] == p["EarliestRestorableDateTime"]

        code, msg = error(ddb.update_continuous_backups, TableName="ptab",
                          PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True,
                                                            "RecoveryPeriodInDays": 36})
        assert code == "ValidationException"
        assert msg == ("1 validation error detected: Value '36' at "
                       "'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy "
                       "constraint: Member must have value less than or equal to 35")
        assert error(ddb.describe_continuous_backups, TableName="nope") == (
            "TableNotFoundException", "Table not found: nope")
        assert error(ddb.update_continuous_backups, TableName="nope",
                     PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}) == (
            "TableNotFoundException", "Table not found: nope")

        d = ddb.update_continuous_backups(
            TableName="ptab", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
        assert d["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"] == {
            "PointInTimeRecoveryStatus": "DISABLED"}
        # A new period when enabled again, the default 35 days.
        d = ddb.update_continuous_backups(
            TableName="ptab", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        p3 = d["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert p3["RecoveryPeriodInDays"] == 35
        assert p3["EarliestRestorableDateTime"] > p["EarliestRestorableDateTime"]
    finally:
        s.kill()


def test_restore_to_points_in_time_with_exact_contents_and_indexes(tmp_path):
    s = start(tmp_path)
    try:
        ddb = s.client()
        make_table(ddb, "src")
        ddb.put_item(TableName="src", Item=item("before", "0", g="x", l=0, v="not history"))
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        t0 = moment()
        ddb.put_item(TableName="src", Item=item("a", "1", g="x", l=1, v="a1"))
        ddb.batch_write_item(RequestItems={"src": [
            {"PutRequest": {"Item": item("b", "1", g="y", l=2, v="b1")}},
            {"PutRequest": {"Item": item("a", "2", g="x", l=3, v="a2")}}]})
        t1 = moment()
        state1 = contents(ddb, "src")
        ddb.update_item(TableName="src", Key={"pk": {"S": "a"}, "sk": {"S": "1"}},
                        UpdateExpression="SET g = :g, l = :l, v = :v",
                        ExpressionAttributeValues={":g": {"S": "y"}, ":l": {"N": "9"}, ":v": {"S": "a1'"}})
        ddb.delete_item(TableName="src", Key={"pk": {"S": "b"}, "sk": {"S": "1"}})
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "src", "Item": item("c", "1", g="x", v="c1")}},
            {"Delete": {"TableName": "src", "Key": {"pk": {"S": "before"}, "sk": {"S": "0"}}}}])
        t2 = moment()
        state2 = contents(ddb, "src")
        ddb.put_item(TableName="src", Item=item("d", "1", g="x", l=4, v="d1"))
        latest_state = contents(ddb, "src")

        r = ddb.restore_table_to_point_in_time(SourceTableName="src", TargetTableName="at1",
                                               RestoreDateTime=t1)["TableDescription"]
        assert r["TableStatus"] == "ACTIVE" and r["RestoreSummary"]["RestoreInProgress"] is False
        assert r["RestoreSummary"]["SourceTableArn"].endswith(":table/src")
        assert abs(r["RestoreSummary"]["RestoreDateTime"].timestamp() - t1) < 0.01
        assert contents(ddb, "at1") == state1
        assert gsi(ddb, "at1", "x") == [("a", "1"), ("a", "2"), ("before", "0")]
        assert gsi(ddb, "at1", "y") == [("b", "1")]
        assert lsi(ddb, "at1", "a") == [("1", "1"), ("2", "3")]
        t = ddb.describe_table(TableName="at1")["Table"]
        assert t["ItemCount"] == 4
        # What AWS leaves to be set up again: stream, tags, recovery.
        assert "StreamSpecification" not in t and "LatestStreamArn" not in t
        assert ddb.list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"] == []
        assert ddb.describe_continuous_backups(TableName="at1")["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
        assert {i["IndexName"] for i in t["GlobalSecondaryIndexes"]} == {"byg"}
        assert {i["IndexName"] for i in t["LocalSecondaryIndexes"]} == {"byl"}
        assert t["GlobalSecondaryIndexes"][0]["ItemCount"] == 4

        ddb.restore_table_to_point_in_time(SourceTableName="src", TargetTableName="at2", RestoreDateTime=t2)
        assert contents(ddb, "at2") == state2
        assert gsi(ddb, "at2", "x") == [("a", "2"), ("c", "1")]
        assert gsi(ddb, "at2", "y") == [("a", "1")]
        assert lsi(ddb, "at2", "a") == [("2", "3"), ("1", "9")]

        arn = ddb.describe_table(TableName="src")["Table"]["TableArn"]
        ddb.restore_table_to_point_in_time(SourceTableArn=arn, TargetTableName="at0", RestoreDateTime=t0)
        assert [k for k, _ in contents(ddb, "at0")] == [("before", "0")]

        ddb.restore_table_to_point_in_time(SourceTableName="src", TargetTableName="latest",
                                           UseLatestRestorableTime=True)
        assert contents(ddb, "latest") == latest_state
        # The restored tables are tables of their own: writes to one change nothing else.
        ddb.put_item(TableName="at1", Item=item("z", "1", g="x"))
        assert contents(ddb, "src") == latest_state
    finally:
        s.kill()


def test_restore_errors_as_aws(tmp_path):
    s = start(tmp_path)
    try:
        ddb = s.client()
        make_table(ddb, "src")
        make_table(ddb, "taken")
        for target in ("tt2", "taken"):  # recovery is checked before the target's name
            code, msg = error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName=target,
                              UseLatestRestorableTime=True)
            assert (code, msg) == ("PointInTimeRecoveryUnavailableException",
                                   "Point in time recovery is not enabled for table 'src'")
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        p = ddb.describe_continuous_backups(TableName="src")["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"]
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        for when in (p["EarliestRestorableDateTime"].timestamp() - 60, time.time() + 3600):
            # The time is checked before the target's name too.
            code, msg = error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="taken",
                              RestoreDateTime=when)
            assert code == "InvalidRestoreTimeException", msg
            assert msg.startswith(f"RestoreDateTime '{iso(when)}' must be within EarliestRestorableDateTime "
                                  f"'{iso(p['EarliestRestorableDateTime'].timestamp())}' and LatestRestorableDateTime '"), msg
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="taken",
                     UseLatestRestorableTime=True) == ("TableAlreadyExistsException", "Table already exists: taken")
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="gone", TargetTableName="tt2",
                     UseLatestRestorableTime=True) == ("TableNotFoundException", "Table not found: gone")
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="tt2",
                     UseLatestRestorableTime=True, RestoreDateTime=time.time()) == (
            "ValidationException", "Invalid Request: Both RestoreDateTime and UseLatestRestorableTime cannot be set "
            "for point-in-time restore request. Please specify either RestoreDateTime time or UseLatestRestorableTime")
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="tt2") == (
            "ValidationException",
            "Invalid Request: Either one of RestoreDateTime or UseLatestRestorableTime must be specified, but not both")
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="tt2",
                     SourceTableArn="arn:aws:dynamodb:us-east-1:000000000000:table/src",
                     UseLatestRestorableTime=True) == (
            "ValidationException", "Must provide exactly one of: sourceTableArn, sourceTableName")
        assert error(ddb.restore_table_to_point_in_time, TargetTableName="tt2", UseLatestRestorableTime=True) == (
            "ValidationException", "The parameter 'TableName' is required")
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="tt2",
                     UseLatestRestorableTime=True,
                     ProvisionedThroughputOverride={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}) == (
            "ValidationException", "Cannot override ProvisionedThroughput unless BillingMode is PROVISIONED")
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="tt2",
                     UseLatestRestorableTime=True, BillingModeOverride="PROVISIONED") == (
            "ValidationException", "Must override ProvisionedThroughput if BillingMode is overridden to PROVISIONED")
        code, msg = error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="bad!name",
                          UseLatestRestorableTime=True)
        assert code == "ValidationException" and "targetTableName" in msg, msg
        code, msg = error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="tt2",
                          UseLatestRestorableTime=True, BillingModeOverride="FREE")
        assert code == "ValidationException" and "billingModeOverride" in msg, msg
        # Nothing was made by any of these.
        assert sorted(ddb.list_tables()["TableNames"]) == ["src", "taken"]
    finally:
        s.kill()


def test_restore_overrides(tmp_path):
    s = start(tmp_path)
    try:
        ddb, kms = s.client(), s.client("kms")
        make_table(ddb, "src")
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        ddb.put_item(TableName="src", Item=item("a", "1", g="x", l=1))
        key = kms.create_key()["KeyMetadata"]["Arn"]
        t = ddb.restore_table_to_point_in_time(
            SourceTableName="src", TargetTableName="over", UseLatestRestorableTime=True,
            BillingModeOverride="PROVISIONED",
            ProvisionedThroughputOverride={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
            GlobalSecondaryIndexOverride=[{
                "IndexName": "byg2", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 2}}],
            LocalSecondaryIndexOverride=[],
            SSESpecificationOverride={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
        )["TableDescription"]
        assert t["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
        assert t["SSEDescription"]["KMSMasterKeyArn"] == key
        assert "LocalSecondaryIndexes" not in t
        # An override may rename a source index (same keys and projection), as on AWS.
        g = t["GlobalSecondaryIndexes"][0]
        assert g["IndexName"] == "byg2" and g["ItemCount"] == 1
        assert g["ProvisionedThroughput"]["ReadCapacityUnits"] == 2
        assert {a["AttributeName"] for a in t["AttributeDefinitions"]} == {"pk", "sk", "g"}
        assert ddb.query(TableName="over", IndexName="byg2", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "x"}})["Count"] == 1
        # But never a new index, and the throughput follows the billing mode (AWS's texts).
        new = {"IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
               "Projection": {"ProjectionType": "KEYS_ONLY"}}
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="over2",
                     UseLatestRestorableTime=True, GlobalSecondaryIndexOverride=[new]) == (
            "ValidationException", "Index byg does not match a secondary index that existed in the source table "
            "and cannot be created during the restore operation")
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="over2",
                     UseLatestRestorableTime=True, BillingModeOverride="PROVISIONED",
                     ProvisionedThroughputOverride={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                     GlobalSecondaryIndexOverride=[dict(new, Projection={"ProjectionType": "ALL"})]) == (
            "ValidationException", "Must specify provisioned throughput for index byg")
        assert error(ddb.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="over2",
                     UseLatestRestorableTime=True, GlobalSecondaryIndexOverride=[dict(
                         new, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})]) == (
            "ValidationException",
            "Cannot override ProvisionedThroughput if BillingMode is overridden to PAY_PER_REQUEST for index byg")
        assert "over2" not in ddb.list_tables()["TableNames"]
    finally:
        s.kill()


def test_restore_after_restart_and_no_plaintext_on_disk(tmp_path):
    s = start(tmp_path)
    marker = f"pitr-plaintext-{uuid.uuid4().hex[:8]}"
    try:
        ddb = s.client()
        make_table(ddb, "src")
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        ddb.put_item(TableName="src", Item=item("a", "1", g="x", v=marker + "-old"))
        t1 = moment()
        ddb.put_item(TableName="src", Item=item("a", "1", g="x", v=marker + "-new"))
        ddb.put_item(TableName="src", Item=item("b", "1", v=marker + "-later"))
        ddb.delete_item(TableName="src", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})
        s.stop()
        # Items, history rows (the old values) and the WAL: nothing readable.
        for f in s.data_dir.rglob("*"):
            if f.is_file():
                assert marker.encode() not in f.read_bytes(), f
        s.start()
        ddb = s.client()
        ddb.restore_table_to_point_in_time(SourceTableName="src", TargetTableName="back", RestoreDateTime=t1)
        got = contents(ddb, "back")
        assert [(k, i["v"]["S"]) for k, i in got] == [(("a", "1"), marker + "-old")]
        assert gsi(ddb, "back", "x") == [("a", "1")]
        s.stop()
        for f in s.data_dir.rglob("*"):
            if f.is_file():
                assert marker.encode() not in f.read_bytes(), f
    finally:
        s.kill()


def test_every_change_path_keeps_history_ttl_and_partiql(tmp_path):
    s = start(tmp_path, "--ttl-sweep-interval", "1", "--ttl-transition-secs", "0")
    try:
        ddb = s.client()
        make_table(ddb, "src")
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        ddb.update_time_to_live(TableName="src", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
        expiring = item("t", "1", g="x", v="expires")
        expiring["exp"] = {"N": str(int(time.time()) - 10)}
        ddb.put_item(TableName="src", Item=expiring)
        ddb.execute_statement(Statement="INSERT INTO \"src\" VALUE {'pk': 'q', 'sk': '1', 'g': 'x', 'v': 'partiql'}")
        t1 = moment()
        ddb.execute_statement(Statement="UPDATE \"src\" SET v = 'changed' WHERE pk = 'q' AND sk = '1'")
        deadline = time.time() + 30
        while ddb.get_item(TableName="src", Key={"pk": {"S": "t"}, "sk": {"S": "1"}}).get("Item"):
            assert time.time() < deadline, "TTL never deleted the item"
            time.sleep(0.3)
        assert ddb.get_item(TableName="src", Key={"pk": {"S": "q"}, "sk": {"S": "1"}})["Item"]["v"]["S"] == "changed"
        ddb.restore_table_to_point_in_time(SourceTableName="src", TargetTableName="back", RestoreDateTime=t1)
        got = {k: i["v"]["S"] for k, i in contents(ddb, "back")}
        assert got == {("q", "1"): "partiql", ("t", "1"): "expires"}
        assert gsi(ddb, "back", "x") == [("q", "1"), ("t", "1")]
        # The restored table has no TTL of its own (AWS: set it up again).
        assert ddb.describe_time_to_live(TableName="back")["TimeToLiveDescription"][
            "TimeToLiveStatus"] == "DISABLED"
    finally:
        s.kill()


def test_restore_authorization_and_cloudtrail(tmp_path):
    s = start(tmp_path)
    try:
        ddb, iam = s.client(), s.client("iam")
        make_table(ddb, "src")
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        iam.create_user(UserName="restorer")
        k = iam.create_access_key(UserName="restorer")["AccessKey"]
        user = s.client(key=k["AccessKeyId"], secret=k["SecretAccessKey"])
        arn = "arn:aws:dynamodb:us-east-1:000000000000:table"
        iam.put_user_policy(UserName="restorer", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:RestoreTableToPointInTime", "Resource": f"{arn}/src"}]}))
        # The source alone is not enough: AWS asks for reads and writes on the target.
        code, msg = error(user.restore_table_to_point_in_time, SourceTableName="src", TargetTableName="dst",
                          UseLatestRestorableTime=True)
        assert code == "AccessDeniedException"
        assert msg.startswith("User: arn:aws:iam::000000000000:user/restorer is not authorized to perform: "
                              f"dynamodb:PutItem on resource: {arn}/dst"), msg
        iam.put_user_policy(UserName="restorer", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:RestoreTableToPointInTime", "Resource": f"{arn}/src"},
                {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                               "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan",
                                               "dynamodb:BatchWriteItem"], "Resource": f"{arn}/dst"}]}))
        user.restore_table_to_point_in_time(SourceTableName="src", TargetTableName="dst", UseLatestRestorableTime=True)
        code, _ = error(user.describe_continuous_backups, TableName="src")
        assert code == "AccessDeniedException"

        trail = s.client("cloudtrail")

        def events(name):
            found = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
            return [json.loads(e["CloudTrailEvent"]) for e in found["Events"]]

        [update] = events("UpdateContinuousBackups")
        assert update["eventSource"] == "dynamodb.amazonaws.com" and update["readOnly"] is False
        assert update["requestParameters"]["tableName"] == "src"
        restored, denied = events("RestoreTableToPointInTime")  # newest first
        assert "errorCode" not in restored and restored["userIdentity"]["userName"] == "restorer"
        assert denied["errorCode"] == "AccessDeniedException"
        assert restored["resources"][0]["ARN"] == f"{arn}/dst"
        [described] = events("DescribeContinuousBackups")
        assert described["readOnly"] is True and described["errorCode"] == "AccessDeniedException"
    finally:
        s.kill()


def test_aws_cli_with_aws_default_lag(server, ddb, aws_cli):
    """The session server runs with the default 5-minute lag, as AWS: right after recovery
    is turned on the latest restorable time is its start, so a latest restore holds the
    items of that moment, not those written since."""
    name = "cli" + uuid.uuid4().hex[:8]
    make_table(ddb, name)
    ddb.put_item(TableName=name, Item=item("kept", "1", g="x"))
    out = aws_cli("dynamodb", "update-continuous-backups", "--table-name", name,
                  "--point-in-time-recovery-specification", "PointInTimeRecoveryEnabled=true,RecoveryPeriodInDays=3")
    p = out["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert p["PointInTimeRecoveryStatus"] == "ENABLED" and p["RecoveryPeriodInDays"] == 3
    ddb.put_item(TableName=name, Item=item("later", "1", g="x"))
    time.sleep(1.1)
    p = aws_cli("dynamodb", "describe-continuous-backups", "--table-name", name)[
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert p["LatestRestorableDateTime"] == p["EarliestRestorableDateTime"]
    target = name + "-r"
    out = aws_cli("dynamodb", "restore-table-to-point-in-time", "--source-table-name", name,
                  "--target-table-name", target, "--use-latest-restorable-time")
    assert out["TableDescription"]["TableStatus"] == "ACTIVE"
    assert [k for k, _ in contents(ddb, target)] == [("kept", "1")]
    p = aws_cli("dynamodb", "restore-table-to-point-in-time", "--source-table-name", name,
                "--target-table-name", name + "-late", "--restore-date-time", str(int(time.time())), check=False)
    assert p.returncode != 0 and "InvalidRestoreTimeException" in p.stderr


def test_random_changes_restore_to_each_checkpoint_across_a_kill(tmp_path):
    """A seeded random mix of puts, updates, deletes, batch and transaction writes over a
    few keys; the expected table is kept beside it and noted at checkpoints; the server is
    killed (SIGKILL) halfway; each checkpoint restored equals its noted state."""
    import random
    rng = random.Random(12)
    s = start(tmp_path)
    try:
        ddb = s.client()
        make_table(ddb, "src")
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        model = {}
        checkpoints = []
        for step in range(60):
            pk, sk = rng.choice("abcd"), rng.choice("12")
            key = {"pk": {"S": pk}, "sk": {"S": sk}}
            kind = rng.choice(["put", "put", "update", "delete", "batch", "transact"])
            if kind == "put":
                it = item(pk, sk, g=rng.choice("xy"), v=f"p{step}")
                ddb.put_item(TableName="src", Item=it)
                model[(pk, sk)] = it
            elif kind == "update":
                ddb.update_item(TableName="src", Key=key, UpdateExpression="SET v = :v, g = :g",
                                ExpressionAttributeValues={":v": {"S": f"u{step}"}, ":g": {"S": rng.choice("xy")}},
                                ReturnValues="ALL_NEW")
                model[(pk, sk)] = ddb.get_item(TableName="src", Key=key, ConsistentRead=True)["Item"]
            elif kind == "delete":
                ddb.delete_item(TableName="src", Key=key)
                model.pop((pk, sk), None)
            elif kind == "batch":
                other = ("e", str(step % 3))
                it = item(*other, g="x", v=f"b{step}")
                ddb.batch_write_item(RequestItems={"src": [
                    {"PutRequest": {"Item": it}}, {"DeleteRequest": {"Key": key}}]})
                model[other] = it
                model.pop((pk, sk), None)
            else:
                it = item(pk, sk, g="y", v=f"t{step}")
                ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "src", "Item": it}}])
                model[(pk, sk)] = it
            if step % 12 == 11:
                checkpoints.append((moment(), sorted(model.items())))
            if step == 35:
                s.kill()
                s.start()
                ddb = s.client()
        for n, (when, expected) in enumerate(checkpoints):
            target = f"cp{n}"
            ddb.restore_table_to_point_in_time(SourceTableName="src", TargetTableName=target, RestoreDateTime=when)
            assert contents(ddb, target) == expected, n
            for g in "xy":
                want = sorted(k for k, i in expected if i.get("g", {}).get("S") == g)
                assert gsi(ddb, target, g) == want, (n, g)
    finally:
        s.kill()


def test_restore_keeps_the_source_kms_key_without_an_override(tmp_path):
    s = start(tmp_path)
    try:
        ddb, kms = s.client(), s.client("kms")
        key = kms.create_key()["KeyMetadata"]["Arn"]
        ddb.create_table(
            TableName="sealed", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
        ddb.update_continuous_backups(
            TableName="sealed", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        ddb.put_item(TableName="sealed", Item={"pk": {"S": "a"}})
        t = ddb.restore_table_to_point_in_time(SourceTableName="sealed", TargetTableName="sealed2",
                                               UseLatestRestorableTime=True)["TableDescription"]
        assert t["SSEDescription"]["KMSMasterKeyArn"] == key
        # A service-owned key when the override asks for it.
        t = ddb.restore_table_to_point_in_time(SourceTableName="sealed", TargetTableName="owned",
                                               UseLatestRestorableTime=True,
                                               SSESpecificationOverride={"Enabled": False})["TableDescription"]
        assert "SSEDescription" not in t
        assert ddb.scan(TableName="owned")["Items"] == [{"pk": {"S": "a"}}]
    finally:
        s.kill()


def test_delete_table_keeps_a_system_backup(tmp_path):
    s = start(tmp_path)
    try:
        ddb = s.client()
        make_table(ddb, "gone")
        ddb.put_item(TableName="gone", Item=item("a", "1", g="x"))
        ddb.create_backup(TableName="gone", BackupName="mine")
        ddb.update_continuous_backups(
            TableName="gone", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        ddb.delete_table(TableName="gone")
        # ListBackups shows USER backups unless asked for others, as AWS.
        assert [b["BackupName"] for b in ddb.list_backups()["BackupSummaries"]] == ["mine"]
        [system] = ddb.list_backups(BackupType="SYSTEM")["BackupSummaries"]
        assert system["BackupName"] == "gone$DeletedTableBackup" and system["BackupType"] == "SYSTEM"
        assert len(ddb.list_backups(BackupType="ALL")["BackupSummaries"]) == 2
        code, _ = error(ddb.list_backups, BackupType="NONE")
        assert code == "ValidationException"
        ddb.restore_table_from_backup(TargetTableName="again", BackupArn=system["BackupArn"])
        assert [k for k, _ in contents(ddb, "again")] == [("a", "1")]
        assert gsi(ddb, "again", "x") == [("a", "1")]
        # A restored table starts without recovery, whatever its backup's table had.
        assert ddb.describe_continuous_backups(TableName="again")["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    finally:
        s.kill()


def test_describe_table_keeps_the_restore_summary(tmp_path):
    """AWS's DescribeTable of a restored table carries its RestoreSummary (source table,
    backup for RestoreTableFromBackup, restore time), after the restore's own answer and
    across a restart; other tables have none."""
    s = start(tmp_path)
    try:
        ddb = s.client()
        make_table(ddb, "src")
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        ddb.put_item(TableName="src", Item=item("a", "1", g="x"))
        t1 = moment()
        ddb.restore_table_to_point_in_time(SourceTableName="src", TargetTableName="bytime", RestoreDateTime=t1)
        backup = ddb.create_backup(TableName="src", BackupName="b01")["BackupDetails"]["BackupArn"]
        restored = ddb.restore_table_from_backup(TargetTableName="bybackup", BackupArn=backup)["TableDescription"]
        src_arn = ddb.describe_table(TableName="src")["Table"]["TableArn"]
        assert "RestoreSummary" not in ddb.describe_table(TableName="src")["Table"]
        for _ in range(2):
            got = ddb.describe_table(TableName="bytime")["Table"]["RestoreSummary"]
            assert got["SourceTableArn"] == src_arn and got["RestoreInProgress"] is False
            assert "SourceBackupArn" not in got
            assert abs(got["RestoreDateTime"].timestamp() - t1) < 0.01
            got = ddb.describe_table(TableName="bybackup")["Table"]["RestoreSummary"]
            assert got == restored["RestoreSummary"]
            assert got["SourceBackupArn"] == backup and got["SourceTableArn"] == src_arn
            s.stop()
            s.start()
            ddb = s.client()
    finally:
        s.kill()


def test_restore_from_backup_drops_what_aws_drops_and_its_errors(tmp_path):
    """As AWS (recorded by ack-api-quirks): a restored table has no stream, TTL, tags,
    deletion protection or table class of its source; a taken target name is
    TableAlreadyExistsException; the capacity overrides follow the billing mode."""
    s = start(tmp_path)
    try:
        ddb = s.client()
        make_table(ddb, "src")
        ddb.update_table(TableName="src", DeletionProtectionEnabled=True, TableClass="STANDARD_INFREQUENT_ACCESS")
        ddb.update_time_to_live(TableName="src", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
        ddb.put_item(TableName="src", Item=item("a", "1", g="x", l=1))
        backup = ddb.create_backup(TableName="src", BackupName="bk1")["BackupDetails"]["BackupArn"]
        t = ddb.restore_table_from_backup(TargetTableName="copy", BackupArn=backup)["TableDescription"]
        for member in ("StreamSpecification", "LatestStreamArn", "TableClassSummary"):
            assert member not in t, member
        assert t["DeletionProtectionEnabled"] is False
        assert ddb.describe_time_to_live(TableName="copy")["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
        assert ddb.list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"] == []
        assert contents(ddb, "copy") == contents(ddb, "src") and gsi(ddb, "copy", "x") == [("a", "1")]
        assert error(ddb.restore_table_from_backup, TargetTableName="copy", BackupArn=backup) == (
            "TableAlreadyExistsException", "Table already exists: copy")
        assert error(ddb.restore_table_from_backup, TargetTableName="other", BackupArn=backup,
                     ProvisionedThroughputOverride={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}) == (
            "ValidationException", "Cannot override ProvisionedThroughput unless BillingMode is PROVISIONED")
        prov = ddb.restore_table_from_backup(
            TargetTableName="prov", BackupArn=backup, BillingModeOverride="PROVISIONED",
            ProvisionedThroughputOverride={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4})["TableDescription"]
        assert prov["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        assert prov["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
        assert error(ddb.restore_table_from_backup, TargetTableName="other", BackupArn=t["TableArn"]) == (
            "ValidationException", "Invalid Backup ARN")
        assert error(ddb.restore_table_from_backup, TargetTableName="other", BackupArn=backup + "0")[0] == \
            "BackupNotFoundException"
        assert sorted(ddb.list_tables()["TableNames"]) == ["copy", "prov", "src"]
    finally:
        s.kill()
