//! tonic answers a request that does not decode with `INTERNAL`. It is the
//! caller's fault and changes nothing, so it becomes `INVALID_ARGUMENT`
//! (invariant 4): in the headers of a trailers-only response, or in the
//! trailers of a unary call whose body failed to decode.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;

/// The response rewrite applied to every authorized call.
pub type RewriteFn = fn(http::Response<Body>) -> http::Response<Body>;

/// Rewrites a decode failure's status, in the headers or the trailers.
pub fn undecodable_is_invalid(mut response: http::Response<Body>) -> http::Response<Body> {
    rewrite(response.headers_mut());
    response.map(|body| Body::new(Trailers(body)))
}

fn rewrite(headers: &mut HeaderMap) {
    let undecodable = headers.get("grpc-status").is_some_and(|v| v == "13")
        && headers.get("grpc-message").is_some_and(|m| {
            let m = m.as_bytes();
            m.starts_with(b"failed to decode") || m.starts_with(b"failed%20to%20decode")
        });
    if undecodable {
        headers.insert("grpc-status", http::HeaderValue::from_static("3"));
    }
}

/// A body whose trailers pass through [`rewrite`].
struct Trailers(Body);

impl HttpBody for Trailers {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        Pin::new(&mut self.0).poll_frame(cx).map(|frame| {
            frame.map(|f| {
                f.map(|frame| match frame.into_trailers() {
                    Ok(mut trailers) => {
                        rewrite(&mut trailers);
                        Frame::trailers(trailers)
                    }
                    Err(frame) => frame,
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    #[test]
    fn undecodable_requests_are_invalid_arguments() {
        let status = Status::internal("failed to decode Protobuf message: buffer underflow");
        let rewritten = undecodable_is_invalid(status.into_http());
        assert_eq!(rewritten.headers()["grpc-status"], "3");
        let other = undecodable_is_invalid(Status::internal("storage failure").into_http());
        assert_eq!(other.headers()["grpc-status"], "13");
    }
}
