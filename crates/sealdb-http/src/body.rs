//! Reading request bodies against the server's limits: a deadline for the whole body
//! (`DeadlineBody`, set by the listener), a byte limit, and the reasons a read fails.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The error a request body gives when it is not complete within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within the body timeout")]
pub struct BodyTimedOut;

/// A request body that fails with [`BodyTimedOut`] once its deadline passes.
pub(crate) struct DeadlineBody<B> {
    pub(crate) inner: B,
    pub(crate) deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<B> hyper::body::Body for DeadlineBody<B>
where
    B: hyper::body::Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Why a request body could not be read.
pub(crate) enum BodyError {
    /// Longer than the limit (declared or as sent).
    TooLarge,
    /// Not complete within the server's body timeout (`server::ServerLimits`).
    TimedOut,
    /// The connection failed or the framing was invalid.
    Broken,
}

/// The `Content-Length` a request declares, if any (hyper has checked its syntax).
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The whole body, refused as soon as it passes `limit` bytes.
pub(crate) async fn read_body<B>(
    body: B,
    declared: Option<u64>,
    limit: usize,
) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(e) if e.downcast_ref::<BodyTimedOut>().is_some() => Err(BodyError::TimedOut),
        Err(_) => Err(BodyError::Broken),
    }
}

/// `Connection: close` on a reply sent before the request's body was read to its end.
pub(crate) fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}
