//! The protocols served on the one listener, named by `X-Amz-Target` (or, for IAM and
//! STS, by a form body), and what each one's envelope looks like.

use crate::query::{self, QueryService};
use crate::wire::WireError;

/// The protocols served on the one listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `DynamoDB_20120810.*`, JSON 1.0, signed for `dynamodb`.
    DynamoDb,
    /// `DynamoDBStreams_20120810.*`, JSON 1.0, signed for `dynamodb`.
    Streams,
    /// `SealdbReplication_20261202.*`: the calls between deployments that replicate global
    /// tables (`--peer`), JSON 1.0, signed for `dynamodb`.
    Replication,
    /// `TrentService.*`, JSON 1.1, signed for `kms`.
    Kms,
    /// `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.*`, JSON 1.1, signed for `cloudtrail`.
    CloudTrail,
    /// IAM or STS: the Query protocol, XML replies.
    Query(QueryService),
}

impl Protocol {
    /// Splits `X-Amz-Target` into protocol and operation name.
    pub fn from_target(target: &str) -> Option<(Protocol, &str)> {
        // The operation follows the last dot (CloudTrail's prefix has dots of its own).
        let (prefix, op) = target.rsplit_once('.')?;
        let proto = match prefix {
            "DynamoDB_20120810" => Protocol::DynamoDb,
            "DynamoDBStreams_20120810" => Protocol::Streams,
            "SealdbReplication_20261202" => Protocol::Replication,
            "TrentService" => Protocol::Kms,
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101" => Protocol::CloudTrail,
            _ => return None,
        };
        Some((proto, op))
    }

    pub(super) fn content_type(self) -> &'static str {
        match self {
            Protocol::DynamoDb | Protocol::Streams | Protocol::Replication => {
                "application/x-amz-json-1.0"
            }
            Protocol::Kms | Protocol::CloudTrail => "application/x-amz-json-1.1",
            Protocol::Query(_) => "text/xml",
        }
    }

    /// The request content types the protocol accepts (media type only, any parameters).
    pub(super) fn accepts_content_type(self, media_type: &str) -> bool {
        if let Protocol::Query(_) = self {
            return query::is_form(Some(media_type));
        }
        media_type.eq_ignore_ascii_case("application/json")
            || media_type.eq_ignore_ascii_case(self.content_type())
    }

    pub(crate) fn signing_service(self) -> &'static str {
        match self {
            Protocol::DynamoDb | Protocol::Streams | Protocol::Replication => "dynamodb",
            Protocol::Kms => "kms",
            Protocol::CloudTrail => "cloudtrail",
            Protocol::Query(service) => service.signing_name(),
        }
    }

    /// DynamoDB and its streams checksum and compress their replies; KMS does neither.
    pub(super) fn is_dynamodb(self) -> bool {
        matches!(
            self,
            Protocol::DynamoDb | Protocol::Streams | Protocol::Replication
        )
    }

    /// Errors raised by the front door itself (authentication, framing).
    pub(crate) fn front_error(
        self,
        name: &str,
        status: u16,
        message: impl Into<String>,
    ) -> WireError {
        let type_name = match self {
            Protocol::DynamoDb | Protocol::Streams | Protocol::Replication => {
                format!("com.amazon.coral.service#{name}")
            }
            Protocol::Kms | Protocol::CloudTrail => name.to_owned(),
            Protocol::Query(_) => return query::front_error(name, status, message.into()),
        };
        WireError::new(type_name, status, message)
    }
}

#[cfg(test)]
mod tests {
    use super::Protocol;

    #[test]
    fn targets_name_their_protocol_and_operation() {
        assert_eq!(
            Protocol::from_target("DynamoDB_20120810.PutItem"),
            Some((Protocol::DynamoDb, "PutItem"))
        );
        assert_eq!(
            Protocol::from_target("TrentService.Encrypt"),
            Some((Protocol::Kms, "Encrypt"))
        );
        assert_eq!(
            Protocol::from_target(
                "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
            ),
            Some((Protocol::CloudTrail, "LookupEvents"))
        );
        assert_eq!(Protocol::from_target("cloudtrail.LookupEvents"), None);
        assert_eq!(Protocol::from_target("nodot"), None);
    }
}
