//! Regions with the AWS SDK for Rust: clients configured for different regions against
//! one server see separate namespaces, each with its own region in every ARN.
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeyType, ScalarAttributeType};
use common::{ACCESS_KEY, SECRET_KEY, Server, attr_def, client_in, key_elem};

async fn create(client: &aws_sdk_dynamodb::Client, name: &str) -> String {
    let out = client
        .create_table()
        .table_name(name)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    out.table_description()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sdk_clients_of_two_regions_see_their_own_tables_and_keys() {
    let server = Server::start();
    let west = client_in(&server.endpoint, ACCESS_KEY, SECRET_KEY, "us-west-2");
    let central = client_in(&server.endpoint, ACCESS_KEY, SECRET_KEY, "eu-central-1");
    assert_eq!(
        create(&west, "Orders").await,
        "arn:aws:dynamodb:us-west-2:000000000000:table/Orders"
    );
    assert_eq!(
        create(&central, "Orders").await,
        "arn:aws:dynamodb:eu-central-1:000000000000:table/Orders"
    );
    for (client, value) in [(&west, "west"), (&central, "central")] {
        client
            .put_item()
            .table_name("Orders")
            .item("pk", AttributeValue::S("k".into()))
            .item("v", AttributeValue::S(value.into()))
            .send()
            .await
            .unwrap();
    }
    for (client, value) in [(&west, "west"), (&central, "central")] {
        let got = client
            .get_item()
            .table_name("Orders")
            .key("pk", AttributeValue::S("k".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert_eq!(got.item().unwrap()["v"].as_s().unwrap(), value);
    }
    // The home region (us-east-1) has none of it.
    let east = server.client();
    assert!(
        east.list_tables()
            .send()
            .await
            .unwrap()
            .table_names()
            .is_empty()
    );
    let kms = server.kms_in("us-west-2");
    let key = kms.create_key().send().await.unwrap();
    let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:kms:us-west-2:000000000000:key/"),
        "{arn}"
    );
    let err = server
        .kms_in("eu-central-1")
        .describe_key()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("NotFoundException")
    );
}
