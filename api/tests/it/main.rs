//! The api integration tests: the router in-process with `oneshot`, and the real `locker`
//! binary on a real port.

/// Issuers pushing signed documents, and everything a push can get wrong.
mod push;
/// `app(state)` through `tower::ServiceExt::oneshot`.
mod routes;
/// `locker serve --demo` on a real port, restarted on the same data.
mod serve;
