//! [`node_api!`]: the API types every tonic service is implemented on,
//! declared once.

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
