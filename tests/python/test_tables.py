"""Table operations through boto3: validation texts, describe shape, pagination, tags,
TTL, deletion protection, limits; and server start-up rules (root key mode, TLS)."""

import os
import shutil
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Server


def err(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_create_validation(ddb):
    base = dict(BillingMode="PAY_PER_REQUEST")
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName="ok_name", AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "b", "KeyType": "HASH"}], **base)
    assert err(e) == ("ValidationException",
                      "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [b], AttributeDefinitions: [a]")
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName="ok_name", AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"},
                                                                    {"AttributeName": "x", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}], **base)
    assert "Number of attributes in KeySchema does not exactly match" in err(e)[1]
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName="bad name!", AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}], **base)
    assert "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+" in err(e)[1]
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName="ok_name", AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}])
    assert err(e)[1] == "No provisioned throughput specified for the table"
    assert "ok_name" not in ddb.list_tables()["TableNames"]


def test_describe_shape_and_duplicates(ddb, table):
    t = table("N")
    d = ddb.describe_table(TableName=t)["Table"]
    for k in ("TableArn", "TableId", "CreationDateTime", "ItemCount", "TableSizeBytes",
              "BillingModeSummary", "KeySchema", "AttributeDefinitions", "ProvisionedThroughput"):
        assert k in d, k
    assert d["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{t}"
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName=t, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    assert err(e) == ("ResourceInUseException", f"Table already exists: {t}")
    with pytest.raises(ClientError) as e:
        ddb.describe_table(TableName="no_such_table")
    assert err(e) == ("ResourceNotFoundException", "Requested resource not found: Table: no_such_table not found")


def test_list_tables_pages(ddb, table):
    names = sorted(table(None) for _ in range(5))
    seen = []
    for page in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2}):
        seen += page["TableNames"]
    assert [n for n in seen if n in names] == names
    first = ddb.list_tables(Limit=2)
    assert len(first["TableNames"]) == 2 and "LastEvaluatedTableName" in first


def test_tags_ttl_protection_and_updates(ddb, table):
    t = table(None)
    arn = ddb.describe_table(TableName=t)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "db"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "test"}]
    assert ddb.describe_time_to_live(TableName=t)["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    ddb.update_time_to_live(TableName=t, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    d = ddb.describe_time_to_live(TableName=t)["TimeToLiveDescription"]
    assert d in ({"TimeToLiveStatus": "ENABLING", "AttributeName": "exp"},
                 {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName=t, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert err(e) == ("ValidationException", "TimeToLive is already enabled")
    ddb.update_table(TableName=t, DeletionProtectionEnabled=True)
    with pytest.raises(ClientError) as e:
        ddb.delete_table(TableName=t)
    assert err(e)[0] == "ValidationException" and "protected against deletion" in err(e)[1]
    ddb.update_table(TableName=t, DeletionProtectionEnabled=False,
                     BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4})
    d = ddb.describe_table(TableName=t)["Table"]
    assert d["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert d["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    limits = ddb.describe_limits()
    assert limits["TableMaxReadCapacityUnits"] == 40000
    assert ddb.describe_endpoints()["Endpoints"][0]["CachePeriodInMinutes"] == 1440


def test_root_key_readable_by_others_is_refused(tmp_path):
    s = Server(tmp_path / "data").start()
    s.stop()
    os.chmod(tmp_path / "data" / "root.key", 0o644)
    with pytest.raises(RuntimeError):
        Server(tmp_path / "data").start()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a test certificate")
def test_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    s = Server(tmp_path / "data", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]).start()
    try:
        assert s.endpoint.startswith("https://")
        import boto3
        c = boto3.client("dynamodb", endpoint_url=s.endpoint, region_name="us-east-1",
                         aws_access_key_id="AKIDSEALDBTEST0000001",
                         aws_secret_access_key="sealdbTestSecretKey0000000000000000000000", verify=str(cert))
        assert "TableNames" in c.list_tables()
    finally:
        s.stop()


def test_index_update_entries_as_aws(ddb):
    """GlobalSecondaryIndexUpdates checks AWS makes before looking at any index
    (recorded from DynamoDB by ack-api-quirks, DDB-TABLE-160 / 359)."""
    t = "gsiu" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=t, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "g", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     GlobalSecondaryIndexes=[{"IndexName": "gsi1", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}])

    def refused(**kw):
        with pytest.raises(ClientError) as e:
            ddb.update_table(TableName=t, **kw)
        return err(e)

    create = {"Create": {"IndexName": "gsi1", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "ALL"}}}
    assert refused(GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "gsi1"}}, create]) == (
        "ValidationException", "One or more parameter values were invalid: Only one global secondary index update "
        "per index is allowed simultaneously. Index: gsi1")
    assert refused(GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "gsi1"}, "Update": {
        "IndexName": "gsi1", "OnDemandThroughput": {"MaxReadRequestUnits": 5}}}]) == (
        "ValidationException", "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object")
    assert refused(GlobalSecondaryIndexUpdates=[{}]) == (
        "ValidationException", "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
        "GlobalSecondaryIndexUpdate.Delete must not be null")
    assert refused(GlobalSecondaryIndexUpdates=[])[1].startswith("At least one of ProvisionedThroughput, BillingMode")
    assert refused(GlobalSecondaryIndexUpdates=[], DeletionProtectionEnabled=True) == (
        "ValidationException", "One or more parameter values were invalid: List of GlobalSecondaryIndexUpdates is empty")
    d = ddb.describe_table(TableName=t)["Table"]
    assert d["DeletionProtectionEnabled"] is False and [i["IndexStatus"] for i in d["GlobalSecondaryIndexes"]] == ["ACTIVE"]
    ddb.delete_table(TableName=t)


def test_table_class_changes_are_limited_as_aws(ddb):
    """AWS: TableClass can change twice in 30 days; then even a re-send of the current
    class is refused (ack-api-quirks DDB-TABLE-443, recorded in two regions)."""
    t = "cls" + uuid.uuid4().hex[:8]
    ddb.create_table(TableName=t, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.update_table(TableName=t, TableClass="STANDARD_INFREQUENT_ACCESS")
    ddb.update_table(TableName=t, TableClass="STANDARD")
    limited = ("LimitExceededException", "Subscriber limit exceeded: Updates to TableClass are limited to 2 times in 30 day(s).")
    for cls in ("STANDARD_INFREQUENT_ACCESS", "STANDARD"):
        with pytest.raises(ClientError) as e:
            ddb.update_table(TableName=t, TableClass=cls)
        assert err(e) == limited
    assert ddb.describe_table(TableName=t)["Table"]["TableClassSummary"] == {"TableClass": "STANDARD"}
    ddb.update_table(TableName=t, DeletionProtectionEnabled=False)  # other changes still pass
    ddb.delete_table(TableName=t)


def test_unused_attribute_definitions_with_indexes_are_named(ddb):
    """With indexes, AWS names both sets, sorted (moto's AWS-verified wording); found by
    PynamoDB's integration tests, whose table defines an attribute no key uses."""
    with pytest.raises(ClientError) as e:
        ddb.create_table(
            TableName="unused_defs", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("Thread", "number", "Forum", "AltKey")],
            KeySchema=[{"AttributeName": "Forum", "KeyType": "HASH"}, {"AttributeName": "Thread", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "alt", "KeySchema": [{"AttributeName": "AltKey", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    assert err(e) == ("ValidationException",
                      "One or more parameter values were invalid: Some AttributeDefinitions are not used. "
                      "AttributeDefinitions: [AltKey, Forum, Thread, number], keys used: [AltKey, Forum, Thread]")
    assert "unused_defs" not in ddb.list_tables()["TableNames"]
