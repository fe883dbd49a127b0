"""PartiQL (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction) with boto3:
each statement runs as the item operation it stands for, authorized as
dynamodb:PartiQL<Verb>."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def table(ddb):
    name = "Pq" + uuid.uuid4().hex[:8]
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    return name


def run(ddb, statement, *params, **extra):
    if params:
        extra["Parameters"] = list(params)
    return ddb.execute_statement(Statement=statement, **extra)


def test_insert_select_update_delete(ddb, table):
    assert run(ddb, f"INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'sk': 1, 'g': 'x', 'tags': <<'t1', 't2'>>, 'm': {{'n': [1, true, null]}}}}")["Items"] == []
    run(ddb, f"INSERT INTO {table} VALUE {{'pk': ?, 'sk': ?, 'g': 'y', 'n': 5}}", {"S": "a"}, {"N": "2"})
    run(ddb, f"INSERT INTO {table} VALUE {{'pk': 'b', 'sk': 1, 'n': 7}}")
    with pytest.raises(ClientError) as e:
        run(ddb, f"INSERT INTO {table} VALUE {{'pk': 'a', 'sk': 1}}")
    assert e.value.response["Error"]["Code"] == "DuplicateItemException"
    assert e.value.response["Error"]["Message"] == "Duplicate primary key exists in table"
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert item["tags"] == {"SS": ["t1", "t2"]}
    assert item["m"] == {"M": {"n": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}}

    # A partition: Query order (by sort key); a projection; a filter on a non-key attribute.
    got = run(ddb, f"SELECT sk FROM {table} WHERE pk = 'a'")["Items"]
    assert got == [{"sk": {"N": "1"}}, {"sk": {"N": "2"}}]
    got = run(ddb, f"SELECT pk, sk FROM {table} WHERE pk = ? AND sk > 1", {"S": "a"})["Items"]
    assert got == [{"pk": {"S": "a"}, "sk": {"N": "2"}}]
    got = run(ddb, f"SELECT * FROM {table} WHERE n >= 5 AND attribute_type(n, 'N') AND g IS MISSING")["Items"]
    assert [i["pk"]["S"] for i in got] == ["b"]
    got = run(ddb, f'SELECT pk FROM "{table}"."byG" WHERE g = \'y\'')["Items"]
    assert got == [{"pk": {"S": "a"}}]
    got = run(ddb, f"SELECT * FROM {table} WHERE pk IN ('a', 'b') OR n = 7")["Items"]
    assert len(got) == 3

    # Paging: Limit and NextToken.
    page = run(ddb, f"SELECT * FROM {table}", Limit=2)
    assert len(page["Items"]) == 2 and "NextToken" in page
    rest = run(ddb, f"SELECT * FROM {table}", NextToken=page["NextToken"])
    assert len(page["Items"]) + len(rest["Items"]) == 3

    # UPDATE changes an existing item; it creates none.
    run(ddb, f"UPDATE {table} SET n = n + 1, note = 'hi' REMOVE g WHERE pk = 'a' AND sk = 2")
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "2"}})["Item"]
    assert item["n"] == {"N": "6"} and item["note"] == {"S": "hi"} and "g" not in item
    with pytest.raises(ClientError) as e:
        run(ddb, f"UPDATE {table} SET n = 1 WHERE pk = 'zzz' AND sk = 1")
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "zzz"}, "sk": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        run(ddb, f"UPDATE {table} SET n = 1 WHERE pk = 'a'")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    # A condition beyond the key: not met, nothing changes.
    with pytest.raises(ClientError) as e:
        run(ddb, f"DELETE FROM {table} WHERE pk = 'b' AND sk = 1 AND n = 8")
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    run(ddb, f"DELETE FROM {table} WHERE pk = 'b' AND sk = 1 AND n = 7")
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "b"}, "sk": {"N": "1"}})


def test_errors(ddb, table):
    for statement, code, message in [
        (f"SELEC * FROM {table}", "ValidationException", None),
        (f"SELECT * FROM {table} WHERE pk = ?", "ValidationException",
         "Number of parameters in request and statement don't match."),
        ("SELECT * FROM NoSuchTable", "ResourceNotFoundException", "Requested resource not found"),
        (f"SELECT * FROM {table}.nope", "ValidationException", "The table does not have the specified index"),
    ]:
        with pytest.raises(ClientError) as e:
            run(ddb, statement)
        err = e.value.response["Error"]
        assert err["Code"] == code, statement
        if message:
            assert err["Message"] == message
        else:
            assert err["Message"].startswith("Statement wasn't well formed, can't be processed:")


def test_batch_and_transaction(ddb, table):
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": f"INSERT INTO {table} VALUE {{'pk': 'p', 'sk': 1, 'v': 'one'}}"},
        {"Statement": f"INSERT INTO {table} VALUE {{'pk': 'p', 'sk': 2, 'v': 'two'}}"},
        {"Statement": "INSERT INTO NoSuchTable VALUE {'pk': 'p'}"},
    ])["Responses"]
    assert out[:2] == [{"TableName": table}, {"TableName": table}]
    assert out[2]["Error"]["Code"] == "ResourceNotFound"
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": f"SELECT v FROM {table} WHERE pk = ? AND sk = ?", "Parameters": [{"S": "p"}, {"N": "1"}]},
        {"Statement": f"SELECT * FROM {table} WHERE pk = 'p' AND sk = 9"},
        {"Statement": f"SELECT * FROM {table} WHERE pk = 'p'"},
    ])["Responses"]
    assert out[0] == {"TableName": table, "Item": {"v": {"S": "one"}}}
    assert out[1] == {"TableName": table}
    assert out[2]["Error"] == {"Code": "ValidationError", "Message":
                               "Select statements within BatchExecuteStatement must specify the primary key in the where clause."}
    # A transaction of writes is atomic: one failing condition cancels all.
    with pytest.raises(ClientError) as e:
        ddb.execute_transaction(TransactStatements=[
            {"Statement": f"UPDATE {table} SET v = 'changed' WHERE pk = 'p' AND sk = 1"},
            {"Statement": f"INSERT INTO {table} VALUE {{'pk': 'p', 'sk': 2}}"},
        ])
    assert e.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"N": "1"}})["Item"]["v"] == {"S": "one"}
    ddb.execute_transaction(TransactStatements=[
        {"Statement": f"UPDATE {table} SET v = 'changed' WHERE pk = 'p' AND sk = 1"},
        {"Statement": f"DELETE FROM {table} WHERE pk = 'p' AND sk = 2"},
    ])
    got = ddb.execute_transaction(TransactStatements=[
        {"Statement": f"SELECT v FROM {table} WHERE pk = 'p' AND sk = 1"},
        {"Statement": f"SELECT v FROM {table} WHERE pk = 'p' AND sk = 2"},
    ])["Responses"]
    assert got == [{"Item": {"v": {"S": "changed"}}}, {}]


def test_statements_are_authorized_as_partiql_actions(server, ddb, table):
    iam = server.client("iam")
    user = "pq-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=user)
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:PartiQLSelect", "Resource": arn}],
    }))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = server.client(key=k["AccessKeyId"], secret=k["SecretAccessKey"])
    run(ddb, f"INSERT INTO {table} VALUE {{'pk': 'auth', 'sk': 1}}")
    assert run(as_user, f"SELECT pk FROM {table} WHERE pk = 'auth'")["Items"] == [{"pk": {"S": "auth"}}]
    with pytest.raises(ClientError) as e:
        run(as_user, f"DELETE FROM {table} WHERE pk = 'auth' AND sk = 1")
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    assert "dynamodb:PartiQLDelete" in err["Message"]
    # GetItem itself is not granted by PartiQLSelect.
    with pytest.raises(ClientError) as e:
        as_user.get_item(TableName=table, Key={"pk": {"S": "auth"}, "sk": {"N": "1"}})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "Item" in ddb.get_item(TableName=table, Key={"pk": {"S": "auth"}, "sk": {"N": "1"}})
