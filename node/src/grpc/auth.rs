//! Authorization: who may call which service (docs/design.md §2), enforced in one
//! place as tonic interceptors in front of each service.
//!
//! The caller's identity comes from its verified client certificate (see
//! [`crate::tls::CallerInfo`]); plaintext and non-consortium clients never
//! complete a handshake, so every request here has one.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use futures::TryFutureExt;
use futures::future::{Either, MapOk};
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::{Request, Status};
use tower::Service;

use crate::membership::{Admission, Membership};
use crate::pki::{InstitutionId, Role};
use crate::service::Actor;
use crate::tls::CallerInfo;

/// Access rule of one service.
#[derive(Debug, Clone)]
pub enum AccessRule {
    /// `PeerService`: consortium nodes; `GetNodeInfo` is open to every
    /// consortium identity (admins use it to check reachability).
    PeerNode,
    /// `AdminService`: admins of this institution only.
    OwnAdmin(InstitutionId),
    /// `AuditService`: any regulator, or admins of this institution.
    Auditor(InstitutionId),
    /// `DiscoveryService`: member nodes and admins; its status, regulators.
    Discovery,
}

/// Methods any consortium identity may call.
const OPEN_METHODS: &[&str] = &["GetNodeInfo", "GetManifest"];

impl AccessRule {
    fn permits(&self, caller: &CallerInfo, method: &str) -> bool {
        let id = &caller.identity;
        match self {
            AccessRule::PeerNode => {
                id.role == Role::Node || (OPEN_METHODS.contains(&method) && id.role != Role::Signer)
            }
            AccessRule::OwnAdmin(own) => {
                // The node's own identity may ask for a backup: whoever holds
                // its key (`credshare-node backup --config`) holds the node.
                let own_node = id.role == Role::Node && method == "Backup";
                &id.institution == own && (id.role == Role::Admin || own_node)
            }
            AccessRule::Auditor(own) => {
                id.role == Role::Regulator || (id.role == Role::Admin && &id.institution == own)
            }
            AccessRule::Discovery => match method {
                "GetDiscoveryStatus" => id.role == Role::Regulator,
                _ => id.role == Role::Node || id.role == Role::Admin,
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            AccessRule::PeerNode => "this service is for consortium nodes (role node)".into(),
            AccessRule::OwnAdmin(own) => format!("this service is for admins of {own}"),
            AccessRule::Auditor(own) => {
                format!("this service is for regulators and admins of {own}")
            }
            AccessRule::Discovery => {
                "discovery is for member nodes and admins; its status for regulators".into()
            }
        }
    }

    /// Decides one call; denials are logged and carry a reason.
    pub fn check(
        &self,
        caller: Option<&CallerInfo>,
        service: &str,
        method: &str,
    ) -> Result<(), Status> {
        let caller =
            caller.ok_or_else(|| Status::unauthenticated("no verified client certificate"))?;
        if self.permits(caller, method) {
            return Ok(());
        }
        tracing::warn!(
            service,
            method,
            caller = %caller.identity,
            remote = %caller.remote,
            "permission denied"
        );
        Err(Status::permission_denied(format!(
            "{} may not call {service}/{method}: {}",
            caller.identity,
            self.describe()
        )))
    }
}

/// The verified caller of a request.
pub fn caller<T>(request: &Request<T>) -> Result<&CallerInfo, Status> {
    request
        .extensions()
        .get::<CallerInfo>()
        .ok_or_else(|| Status::unauthenticated("no verified client certificate"))
}

/// The caller as it is logged: identity and officer (empty for none).
pub fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    let caller = caller(request)?;
    Ok(Actor {
        identity: caller.identity.to_string(),
        officer: caller
            .officer
            .as_ref()
            .map(|o| o.id().to_owned())
            .unwrap_or_default(),
    })
}

/// The caller's officer id; with `required`, a certificate that names no
/// officer is refused (Regulation art. 22: every staff query registered
/// with the person).
pub fn officer<T>(request: &Request<T>, required: bool) -> Result<String, Status> {
    let actor = actor(request)?;
    if required && actor.officer.is_empty() {
        return Err(Status::permission_denied(format!(
            "{} names no officer: queries need an officer certificate \
             (`credshare pki issue --role admin --officer ID`; staff.require_officer)",
            actor.identity
        )));
    }
    Ok(actor.officer)
}

/// A gRPC service behind an [`AccessRule`]: the one authorization layer.
/// It sees the HTTP path, so rules can be per method.
#[derive(Debug, Clone)]
pub struct Authorized<S> {
    inner: S,
    rule: AccessRule,
    /// On the peer listener: only members of the consortium's manifest.
    members: Option<Arc<Membership>>,
}

impl<S> Authorized<S> {
    pub fn new(inner: S, rule: AccessRule) -> Self {
        Self {
            inner,
            rule,
            members: None,
        }
    }

    /// Also admits only institutions the membership manifest lists (when
    /// one is in force).
    pub fn members_only(mut self, membership: Arc<Membership>) -> Self {
        self.members = Some(membership);
        self
    }
}

/// The membership's verdict on a caller, as a status.
fn admit(membership: &Membership, caller: Option<&CallerInfo>, method: &str) -> Result<(), Status> {
    let Some(caller) = caller else {
        return Ok(()); // refused by the access rule already
    };
    match membership.admit(&caller.identity, method, SystemTime::now()) {
        Admission::Admitted => Ok(()),
        Admission::NotMember(reason) => {
            tracing::warn!(method, caller = %caller.identity, %reason, "not a member");
            Err(Status::permission_denied(reason))
        }
        Admission::Expired(reason) => Err(Status::failed_precondition(reason)),
    }
}

impl<S: NamedService> NamedService for Authorized<S> {
    const NAME: &'static str = S::NAME;
}

use super::undecodable::{RewriteFn, undecodable_is_invalid};

impl<S, B> Service<http::Request<B>> for Authorized<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + NamedService,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future =
        Either<MapOk<S::Future, RewriteFn>, Ready<Result<http::Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().rsplit('/').next().unwrap_or_default();
        let caller = request.extensions().get::<CallerInfo>();
        let checked = self
            .rule
            .check(caller, S::NAME, method)
            .and_then(|()| match &self.members {
                Some(m) if !OPEN_METHODS.contains(&method) => admit(m, caller, method),
                _ => Ok(()),
            });
        match checked {
            Ok(()) => Either::Left(
                self.inner
                    .call(request)
                    .map_ok(undecodable_is_invalid as RewriteFn),
            ),
            Err(status) => Either::Right(ready(Ok(status.into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Identity;

    fn info(uri: &str) -> CallerInfo {
        CallerInfo {
            identity: Identity::from_uri(uri).unwrap(),
            remote: "127.0.0.1:1".parse().unwrap(),
            cert_fingerprint: String::new(),
            officer: None,
            load: Default::default(),
        }
    }

    #[test]
    fn rules_follow_the_trust_model() {
        let a = InstitutionId::parse("BANK-A").unwrap();
        let own_admin = AccessRule::OwnAdmin(a.clone());
        let auditor = AccessRule::Auditor(a);
        // (rule, [(caller, method, permitted)]); callers are urn:credshare:…
        type Calls = &'static [(&'static str, &'static str, bool)];
        let cases: [(&AccessRule, Calls); 3] = [
            (
                &AccessRule::PeerNode,
                &[
                    ("node:BANK-B", "QueryBorrower", true),
                    ("regulator:REG-1", "QueryBorrower", false),
                    ("admin:BANK-A", "QueryBorrower", false),
                    ("admin:BANK-A", "GetNodeInfo", true),
                    ("signer:BANK-A", "GetNodeInfo", false),
                ],
            ),
            (
                &own_admin,
                &[
                    ("admin:BANK-A", "Status", true),
                    ("admin:BANK-B", "Status", false),
                    ("node:BANK-A", "Status", false),
                ],
            ),
            (
                &auditor,
                &[
                    ("regulator:REG-1", "GetCheckpoint", true),
                    ("admin:BANK-A", "GetCheckpoint", true),
                    ("admin:BANK-B", "GetCheckpoint", false),
                    ("node:BANK-B", "GetCheckpoint", false),
                ],
            ),
        ];
        for (rule, calls) in cases {
            for &(caller, method, ok) in calls {
                let uri = format!("urn:credshare:{caller}");
                assert_eq!(
                    rule.permits(&info(&uri), method),
                    ok,
                    "{rule:?} {uri} {method}"
                );
            }
        }
    }

    #[test]
    fn denials_carry_a_reason() {
        let a = InstitutionId::parse("BANK-A").unwrap();
        let rule = AccessRule::OwnAdmin(a);
        let status = rule
            .check(
                Some(&info("urn:credshare:admin:BANK-B")),
                "AdminService",
                "Status",
            )
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert!(
            status.message().contains("admin:BANK-B"),
            "{}",
            status.message()
        );
        let status = rule.check(None, "AdminService", "Status").unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }
}
