//! [`grpc_service!`] and [`node_api!`]: the tonic service boilerplate
//! every API type shares, written once.

/// Implements a tonic service trait for an API type. Each handler is
/// written `fn name(&self, request: In) -> Out { body }` and gets the one
/// signature tonic asks for (`async fn name(&self, request: Request<In>) ->
/// Result<Response<Out>, Status>`, through `tonic::async_trait`) and
/// `#[tracing::instrument(skip_all)]`; associated types pass through as
/// written.
macro_rules! grpc_service {
    (
        impl $service:path => $api:ty {
            $(type $assoc:ident = $assoc_ty:ty;)*
            $(
                fn $name:ident(&$self:ident, $request:ident: $in:ty $(,)?) -> $out:ty $body:block
            )*
        }
    ) => {
        #[tonic::async_trait]
        impl $service for $api {
            $(type $assoc = $assoc_ty;)*
            $(
                #[tracing::instrument(skip_all)]
                async fn $name(
                    &$self,
                    $request: tonic::Request<$in>,
                ) -> Result<tonic::Response<$out>, tonic::Status> $body
            )*
        }
    };
}

/// Declares an API type that serves its handlers from the node: a cheap
/// clone of `Arc<Node>`, built with `new`.
macro_rules! node_api {
    ($api:ident) => {
        #[derive(Debug, Clone)]
        pub struct $api {
            node: std::sync::Arc<$crate::service::Node>,
        }

        impl $api {
            pub fn new(node: std::sync::Arc<$crate::service::Node>) -> Self {
                Self { node }
            }
        }
    };
}
