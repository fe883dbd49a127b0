"""OnDemandThroughput (MaxReadRequestUnits / MaxWriteRequestUnits) with boto3 as AWS
answers it: CreateTable, UpdateTable (members merge, -1 takes one away and is shown as -1
only in UpdateTable's answer), DescribeTable, global indexes, the billing-mode rules, the
backup's SourceTableDetails, OnDemandThroughputOverride of both restores, and the maximums
kept across a restart. AWS's texts are those recorded from DynamoDB by ack-api-quirks."""

import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Server

INVALID = "One or more parameter values were invalid: "


def err(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def name():
    return "od" + uuid.uuid4().hex[:10]


def create(ddb, table, **extra):
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if "GlobalSecondaryIndexes" in extra:
        attrs.append({"AttributeName": "g", "AttributeType": "S"})
    return ddb.create_table(TableName=table, AttributeDefinitions=attrs,
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], **extra)["TableDescription"]


def gsi(**extra):
    return {"IndexName": "g-a", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}, **extra}


def described(ddb, table):
    return ddb.describe_table(TableName=table)["Table"]


def test_create_and_describe(ddb):
    t = name()
    d = create(ddb, t, BillingMode="PAY_PER_REQUEST",
               OnDemandThroughput={"MaxReadRequestUnits": 100},
               GlobalSecondaryIndexes=[gsi(OnDemandThroughput={"MaxWriteRequestUnits": 7})])
    assert d["OnDemandThroughput"] == {"MaxReadRequestUnits": 100}
    desc = described(ddb, t)
    assert desc["OnDemandThroughput"] == {"MaxReadRequestUnits": 100}
    assert desc["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == {"MaxWriteRequestUnits": 7}
    # No maximum: no member at all; an empty structure is accepted and sets none.
    u = name()
    create(ddb, u, BillingMode="PAY_PER_REQUEST", OnDemandThroughput={})
    assert "OnDemandThroughput" not in described(ddb, u)


def test_create_errors(ddb):
    for bad in ({"MaxReadRequestUnits": 0, "MaxWriteRequestUnits": 0},
                {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1},
                {"MaxReadRequestUnits": -2}):
        assert err(create, ddb=ddb, table=name(), BillingMode="PAY_PER_REQUEST", OnDemandThroughput=bad) == (
            "ValidationException",
            INVALID + "Requested MaxReadRequestUnits for OnDemandThroughput for table is outside of valid range")
    assert err(create, ddb=ddb, table=name(), BillingMode="PAY_PER_REQUEST",
               OnDemandThroughput={"MaxWriteRequestUnits": 0}) == (
        "ValidationException",
        INVALID + "Requested MaxWriteRequestUnits for OnDemandThroughput for table is outside of valid range")
    assert err(create, ddb=ddb, table=name(), BillingMode="PROVISIONED",
               ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
               OnDemandThroughput={"MaxReadRequestUnits": 10}) == (
        "ValidationException",
        INVALID + "MaxReadRequestUnits for OnDemandThroughput cannot be specified when table BillingMode is PROVISIONED.")
    assert err(create, ddb=ddb, table=name(), BillingMode="PAY_PER_REQUEST",
               GlobalSecondaryIndexes=[gsi(OnDemandThroughput={"MaxReadRequestUnits": -1})]) == (
        "ValidationException",
        INVALID + "Requested MaxReadRequestUnits for OnDemandThroughput for index : g-a is outside of valid range")
    code, msg = err(create, ddb=ddb, table=name(), BillingMode="PROVISIONED",
                    ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                    GlobalSecondaryIndexes=[gsi(
                        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                        OnDemandThroughput={"MaxReadRequestUnits": 10, "MaxWriteRequestUnits": 10})])
    assert code == "ValidationException"
    assert msg.startswith(INVALID + "MaxReadRequestUnits for OnDemandThroughput for index: g-a cannot be specified"), msg


def test_update_merges_and_clears(ddb):
    t = name()
    create(ddb, t, BillingMode="PAY_PER_REQUEST")
    up = lambda **o: ddb.update_table(TableName=t, OnDemandThroughput=o)["TableDescription"]
    assert up(MaxReadRequestUnits=1000, MaxWriteRequestUnits=500)["OnDemandThroughput"] == {
        "MaxReadRequestUnits": 1000, "MaxWriteRequestUnits": 500}
    assert up(MaxReadRequestUnits=2000)["TableStatus"] == "ACTIVE"
    assert described(ddb, t)["OnDemandThroughput"] == {"MaxReadRequestUnits": 2000, "MaxWriteRequestUnits": 500}
    # -1 takes a maximum away: shown as -1 in the answer, left out of DescribeTable.
    assert up(MaxReadRequestUnits=-1)["OnDemandThroughput"] == {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": 500}
    assert described(ddb, t)["OnDemandThroughput"] == {"MaxWriteRequestUnits": 500}
    assert up(MaxWriteRequestUnits=-1)["OnDemandThroughput"] == {"MaxWriteRequestUnits": -1}
    assert "OnDemandThroughput" not in described(ddb, t)
    assert up(MaxReadRequestUnits=-1, MaxWriteRequestUnits=-1)["OnDemandThroughput"] == {
        "MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1}
    for member, bad in (("MaxWriteRequestUnits", 0), ("MaxReadRequestUnits", -2)):
        assert err(ddb.update_table, TableName=t, OnDemandThroughput={member: bad}) == (
            "ValidationException",
            INVALID + f"Requested {member} for OnDemandThroughput for table is outside of valid range")
    assert "OnDemandThroughput" not in described(ddb, t)


def test_update_billing_mode_rules(ddb):
    t = name()
    create(ddb, t, BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    refused = ("ValidationException", INVALID + "MaxReadRequestUnits for OnDemandThroughput cannot be specified "
               "when the table BillingMode is PROVISIONED")
    assert err(ddb.update_table, TableName=t, OnDemandThroughput={"MaxReadRequestUnits": 100}) == refused
    # Switching to on demand in the same request sets them.
    d = ddb.update_table(TableName=t, BillingMode="PAY_PER_REQUEST",
                         OnDemandThroughput={"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50})["TableDescription"]
    assert d["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50}
    # Back to provisioned: the maximums end with on-demand capacity.
    ddb.update_table(TableName=t, BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2})
    assert "OnDemandThroughput" not in described(ddb, t)
    assert err(ddb.update_table, TableName=t, OnDemandThroughput={"MaxReadRequestUnits": 100}) == refused


def test_index_update_and_restores(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--pitr-latest-lag-secs", "0"]).start()
    try:
        ddb = s.client()
        create(ddb, "src", BillingMode="PAY_PER_REQUEST",
               OnDemandThroughput={"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50},
               GlobalSecondaryIndexes=[gsi()])
        ddb.update_table(TableName="src", GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": "g-a", "OnDemandThroughput": {"MaxReadRequestUnits": 30}}}])
        assert described(ddb, "src")["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == {"MaxReadRequestUnits": 30}
        ddb.put_item(TableName="src", Item={"pk": {"S": "a"}, "g": {"S": "x"}})
        backup = ddb.create_backup(TableName="src", BackupName="bk1")["BackupDetails"]["BackupArn"]
        source = ddb.describe_backup(BackupArn=backup)["BackupDescription"]["SourceTableDetails"]
        assert source["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50}
        # Without an override the restored table keeps the maximums; an override replaces
        # the members it names.
        kept = ddb.restore_table_from_backup(TargetTableName="kept", BackupArn=backup)["TableDescription"]
        assert kept["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50}
        assert kept["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == {"MaxReadRequestUnits": 30}
        over = ddb.restore_table_from_backup(TargetTableName="over", BackupArn=backup,
                                             OnDemandThroughputOverride={"MaxWriteRequestUnits": 10})
        assert over["TableDescription"]["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 10}
        assert err(ddb.restore_table_from_backup, TargetTableName="bad", BackupArn=backup,
                   OnDemandThroughputOverride={"MaxReadRequestUnits": 0, "MaxWriteRequestUnits": 0}) == (
            "ValidationException", "Requested MaxReadRequestUnits for OnDemandThroughput is outside of valid range")
        assert err(ddb.restore_table_from_backup, TargetTableName="bad", BackupArn=backup,
                   BillingModeOverride="PROVISIONED",
                   ProvisionedThroughputOverride={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                   OnDemandThroughputOverride={"MaxReadRequestUnits": 10}) == (
            "ValidationException",
            "Cannot override MaxReadRequestUnits for OnDemandThroughput unless BillingModeOverride is PAY_PER_REQUEST")
        ddb.update_continuous_backups(
            TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        pitr = ddb.restore_table_to_point_in_time(
            SourceTableName="src", TargetTableName="pitr", UseLatestRestorableTime=True,
            OnDemandThroughputOverride={"MaxReadRequestUnits": 20})["TableDescription"]
        assert pitr["OnDemandThroughput"] == {"MaxReadRequestUnits": 20, "MaxWriteRequestUnits": 50}
        prov = ddb.restore_table_to_point_in_time(
            SourceTableName="src", TargetTableName="prov", UseLatestRestorableTime=True,
            BillingModeOverride="PROVISIONED",
            ProvisionedThroughputOverride={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})["TableDescription"]
        assert "OnDemandThroughput" not in prov
        assert "OnDemandThroughput" not in prov["GlobalSecondaryIndexes"][0]
        assert sorted(ddb.list_tables()["TableNames"]) == ["kept", "over", "pitr", "prov", "src"]
        # The maximums are kept in the (sealed) definition across a restart.
        s.stop()
        s.start()
        ddb = s.client()
        assert described(ddb, "pitr")["OnDemandThroughput"] == {"MaxReadRequestUnits": 20, "MaxWriteRequestUnits": 50}
        assert described(ddb, "src")["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == {"MaxReadRequestUnits": 30}
    finally:
        s.kill()


def test_account_maximums(ddb):
    """Above the account's per-table maximum (DescribeLimits, 40000): AWS's
    LimitExceededException texts for on-demand maximums and provisioned capacity."""
    t = name()
    create(ddb, t, BillingMode="PAY_PER_REQUEST", GlobalSecondaryIndexes=[gsi()])
    assert err(ddb.update_table, TableName=t, OnDemandThroughput={"MaxReadRequestUnits": 40001}) == (
        "LimitExceededException", "Subscriber limit exceeded: Requested MaxReadRequestUnits for OnDemandThroughput "
        "for table exceeds TableMaxReadCapacityUnits of the account in region us-east-1")
    assert err(ddb.update_table, TableName=t, GlobalSecondaryIndexUpdates=[
        {"Update": {"IndexName": "g-a", "OnDemandThroughput": {"MaxWriteRequestUnits": 50000}}}]) == (
        "LimitExceededException", "Subscriber limit exceeded: Requested MaxWriteRequestUnits for OnDemandThroughput "
        "for index : g-a exceeds TableMaxWriteCapacityUnits of the account in region us-east-1")
    ddb.update_table(TableName=t, OnDemandThroughput={"MaxReadRequestUnits": 40000})
    assert described(ddb, t)["OnDemandThroughput"] == {"MaxReadRequestUnits": 40000}
    assert err(create, ddb=ddb, table=name(), BillingMode="PROVISIONED",
               ProvisionedThroughput={"ReadCapacityUnits": 40001, "WriteCapacityUnits": 1}) == (
        "LimitExceededException", "The requested ReadCapacityUnits, 40001, is above the per table maximum for the "
        "account in us-east-1. Per table maximum: 40000. Refer to the Amazon DynamoDB Developer Guide for current "
        "limits and how to request higher limits.")
