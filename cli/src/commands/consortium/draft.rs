//! The operator's draft manifest: a JSON file edited by `init`, `add` and
//! `remove`, turned into a `MembershipManifest` by `sign`.

use std::path::Path;

use anyhow::{Context, bail};
use credshare_node::domain::dates::now_ms;
use credshare_node::pki::{InstitutionId, Role};
use credshare_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use time::macros::format_description;

/// What the operator edits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub consortium: String,
    /// The version the next `sign` gives the manifest.
    pub version: u64,
    pub valid_days: u32,
    pub members: Vec<DraftMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftMember {
    pub institution_id: String,
    #[serde(default)]
    pub peer_addresses: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Protocol names, e.g. PURPOSE_POST_LOAN_MANAGEMENT.
    #[serde(default)]
    pub purposes: Vec<String>,
}

impl DraftMember {
    /// Checks every field: institution id, `host:port`, role and purpose names.
    pub fn new(
        institution: &str,
        addresses: &[String],
        roles: &[String],
        purposes: &[String],
    ) -> anyhow::Result<Self> {
        InstitutionId::parse(institution)
            .with_context(|| format!("--institution {institution:?}"))?;
        for a in addresses {
            let ok = a.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !ok {
                bail!("--address {a:?}: expected host:port");
            }
        }
        for r in roles {
            r.parse::<Role>()
                .map_err(|_| anyhow::anyhow!("--role {r:?}: expected node, admin or regulator"))?;
        }
        for p in purposes {
            if pb::Purpose::from_str_name(p).is_none_or(|v| v == pb::Purpose::Unspecified) {
                bail!(
                    "--purpose {p:?}: not a protocol purpose name (e.g. PURPOSE_POST_LOAN_MANAGEMENT)"
                );
            }
        }
        Ok(Self {
            institution_id: institution.to_owned(),
            peer_addresses: addresses.to_vec(),
            roles: roles.to_vec(),
            purposes: purposes.to_vec(),
        })
    }
}

impl Draft {
    pub fn new(consortium: &str, valid_days: u32) -> anyhow::Result<Self> {
        if consortium.trim().is_empty() {
            bail!("--consortium: must not be empty");
        }
        if valid_days == 0 {
            bail!("--valid-days: must be at least 1");
        }
        Ok(Self {
            consortium: consortium.to_owned(),
            version: 1,
            valid_days,
            members: Vec::new(),
        })
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a draft manifest", path.display()))
    }

    /// Writes a new draft; refuses to overwrite one.
    pub fn create(&self, path: &Path) -> anyhow::Result<()> {
        if path.exists() {
            bail!("{} exists; edit it with add/remove", path.display());
        }
        self.write(path)
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }

    pub fn upsert(&mut self, member: DraftMember) {
        self.members
            .retain(|m| m.institution_id != member.institution_id);
        self.members.push(member);
        self.members
            .sort_by(|a, b| a.institution_id.cmp(&b.institution_id));
    }

    pub fn remove(&mut self, institution: &str) -> anyhow::Result<()> {
        let before = self.members.len();
        self.members.retain(|m| m.institution_id != institution);
        if self.members.len() == before {
            bail!("{institution} is not in the draft");
        }
        Ok(())
    }

    /// The manifest to sign: issued now, expiring `valid_days` ahead or at
    /// UTC midnight of `expires` (YYYY-MM-DD).
    pub fn to_manifest(&self, expires: Option<&str>) -> anyhow::Result<pb::MembershipManifest> {
        let issued = now_ms();
        let expires_at_ms = match expires {
            None => issued + i64::from(self.valid_days) * 86_400_000,
            Some(day) => {
                let date = time::Date::parse(day, format_description!("[year]-[month]-[day]"))
                    .with_context(|| format!("--expires {day:?}: expected YYYY-MM-DD"))?;
                date.midnight().assume_utc().unix_timestamp() * 1000
            }
        };
        Ok(pb::MembershipManifest {
            consortium: self.consortium.clone(),
            version: self.version,
            issued_at_ms: issued.min(expires_at_ms - 1),
            expires_at_ms,
            members: self
                .members
                .iter()
                .map(|m| pb::Member {
                    institution_id: m.institution_id.clone(),
                    peer_addresses: m.peer_addresses.clone(),
                    roles: m.roles.clone(),
                    purposes: m
                        .purposes
                        .iter()
                        .filter_map(|p| pb::Purpose::from_str_name(p).map(|v| v as i32))
                        .collect(),
                })
                .collect(),
        })
    }

    /// A signed manifest's content, in draft form (for `show`).
    pub fn from_manifest(m: &pb::MembershipManifest) -> Self {
        Self {
            consortium: m.consortium.clone(),
            version: m.version,
            valid_days: ((m.expires_at_ms - m.issued_at_ms) / 86_400_000).max(0) as u32,
            members: m
                .members
                .iter()
                .map(|x| DraftMember {
                    institution_id: x.institution_id.clone(),
                    peer_addresses: x.peer_addresses.clone(),
                    roles: x.roles.clone(),
                    purposes: x
                        .purposes
                        .iter()
                        .map(|p| {
                            pb::Purpose::try_from(*p)
                                .map_or_else(|_| p.to_string(), |v| v.as_str_name().to_owned())
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The members as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "consortium {} · version {} · valid {} days\n{:<14} {:<28} {:<18} PURPOSES\n",
            self.consortium, self.version, self.valid_days, "MEMBER", "PEER ADDRESSES", "ROLES"
        );
        let any = |v: &[String]| {
            if v.is_empty() {
                "any".to_owned()
            } else {
                v.join(",")
            }
        };
        for m in &self.members {
            out.push_str(&format!(
                "{:<14} {:<28} {:<18} {}\n",
                m.institution_id,
                if m.peer_addresses.is_empty() {
                    "-".to_owned()
                } else {
                    m.peer_addresses.join(",")
                },
                any(&m.roles),
                any(&m.purposes)
            ));
        }
        out
    }
}
