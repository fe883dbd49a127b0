//! IAM and STS (the Query protocol): the action and version are checked before the
//! signature, and the backend's `…Result` is wrapped in the `…Response` envelope.

use super::reply::{Reply, finish_with_id, request_id};
use super::request_body::decode_request_body;
use super::{FrontDoor, HttpResponse, Protocol};
use crate::authn::HeadersChecked;
use crate::query::{self, QueryService};
use crate::wire::WireError;
use bytes::Bytes;

impl FrontDoor {
    /// An IAM or STS request: the action and version are checked before the signature,
    /// and the backend's `…Result` is wrapped in the `…Response` envelope with its id.
    pub(super) async fn query(
        &self,
        reply: &Reply,
        service: QueryService,
        parts: &http::request::Parts,
        raw: Bytes,
        headers_checked: Result<HeadersChecked, WireError>,
        remote_ip: &str,
    ) -> HttpResponse {
        let protocol = Protocol::Query(service);
        let id = request_id(protocol);
        let mut action = String::new();
        let result = async {
            let body = decode_request_body(&parts.headers, &raw, protocol)?;
            let form = query::parse_form(&body);
            action = query::form_value(&form, "Action")
                .unwrap_or_default()
                .to_owned();
            query::check_action(service, &form)?;
            let backend = match service {
                QueryService::Iam => self.iam.as_ref(),
                QueryService::Sts => self.sts.as_ref(),
            };
            let backend = match backend {
                Some(b) if b.has_operation(&action) => b,
                _ => return Err(query::invalid_action(service, &action)),
            };
            let caller =
                self.verifier()
                    .check_signature(headers_checked?, parts, &raw, remote_ip)?;
            backend.call(&action, &caller, body).await
        }
        .await;
        match result {
            Ok(body) => finish_with_id(
                reply,
                200,
                query::success_body(service, &action, &body, &id),
                &id,
            ),
            Err(err) => finish_with_id(
                reply,
                err.status,
                query::error_body(service, &err, &id),
                &id,
            ),
        }
    }
}
