//! Authorization: who may call which service (DESIGN §2), enforced in one
//! place as tonic interceptors in front of each service.
//!
//! The caller's identity comes from its verified client certificate (see
//! [`crate::tls::CallerInfo`]); plaintext and non-consortium clients never
//! complete a handshake, so every request here has one.

use tonic::{Request, Status};

use crate::pki::{InstitutionId, Role};
use crate::tls::CallerInfo;

/// Access rule of one service.
#[derive(Debug, Clone)]
pub enum AccessRule {
    /// `PeerService`: any consortium node.
    PeerNode,
    /// `AdminService`: admins of this institution only.
    OwnAdmin(InstitutionId),
    /// `AuditService`: any regulator, or admins of this institution.
    Auditor(InstitutionId),
}

impl AccessRule {
    fn permits(&self, caller: &CallerInfo) -> bool {
        let id = &caller.identity;
        match self {
            AccessRule::PeerNode => id.role == Role::Node,
            AccessRule::OwnAdmin(own) => id.role == Role::Admin && &id.institution == own,
            AccessRule::Auditor(own) => {
                id.role == Role::Regulator || (id.role == Role::Admin && &id.institution == own)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            AccessRule::PeerNode => "this service is for consortium nodes (role node)".into(),
            AccessRule::OwnAdmin(own) => format!("this service is for admins of {own}"),
            AccessRule::Auditor(own) => format!("this service is for regulators and admins of {own}"),
        }
    }
}

/// The verified caller of a request.
pub fn caller<T>(request: &Request<T>) -> Result<&CallerInfo, Status> {
    request
        .extensions()
        .get::<CallerInfo>()
        .ok_or_else(|| Status::unauthenticated("no verified client certificate"))
}

/// An interceptor enforcing `rule`; denials are `PERMISSION_DENIED` with a
/// reason and are logged.
pub fn interceptor(
    rule: AccessRule,
    service: &'static str,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |request: Request<()>| {
        let caller = caller(&request)?;
        if rule.permits(caller) {
            return Ok(request);
        }
        tracing::warn!(
            service,
            caller = %caller.identity,
            remote = %caller.remote,
            "permission denied"
        );
        Err(Status::permission_denied(format!(
            "{} may not call {service}: {}",
            caller.identity,
            rule.describe()
        )))
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
        }
    }

    #[test]
    fn rules_follow_the_trust_model() {
        let a = InstitutionId::parse("BANK-A").unwrap();
        let cases = [
            (AccessRule::PeerNode, "urn:credshare:node:BANK-B", true),
            (AccessRule::PeerNode, "urn:credshare:regulator:REG-1", false),
            (AccessRule::PeerNode, "urn:credshare:admin:BANK-A", false),
            (AccessRule::OwnAdmin(a.clone()), "urn:credshare:admin:BANK-A", true),
            (AccessRule::OwnAdmin(a.clone()), "urn:credshare:admin:BANK-B", false),
            (AccessRule::OwnAdmin(a.clone()), "urn:credshare:node:BANK-A", false),
            (AccessRule::Auditor(a.clone()), "urn:credshare:regulator:REG-1", true),
            (AccessRule::Auditor(a.clone()), "urn:credshare:admin:BANK-A", true),
            (AccessRule::Auditor(a.clone()), "urn:credshare:admin:BANK-B", false),
            (AccessRule::Auditor(a), "urn:credshare:node:BANK-B", false),
        ];
        for (rule, uri, ok) in cases {
            assert_eq!(rule.permits(&info(uri)), ok, "{rule:?} {uri}");
        }
    }

    #[test]
    fn interceptor_denies_with_reason() {
        let a = InstitutionId::parse("BANK-A").unwrap();
        let mut check = interceptor(AccessRule::OwnAdmin(a), "AdminService");
        let mut req = Request::new(());
        req.extensions_mut().insert(info("urn:credshare:admin:BANK-B"));
        let status = check(req).unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert!(status.message().contains("admin:BANK-B"));
        assert_eq!(check(Request::new(())).unwrap_err().code(), tonic::Code::Unauthenticated);
    }
}
