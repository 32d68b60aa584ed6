//! `CREDSHARE_*` environment overrides of the TOML configuration.
//!
//! Keys are addressed by path, sections joined by a double underscore:
//! `CREDSHARE_INSTITUTION`, `CREDSHARE_LISTEN__PEER`. A variable that looks
//! like a config key but is not one stops the node, naming the variable:
//!
//! * an unknown section (`CREDSHARE_LISTN__PEER`);
//! * a known section with an unknown key (`CREDSHARE_LISTEN__PEERS`, found
//!   when the table is deserialized: [`name_unknown_key`]);
//! * a section and key joined by one underscore (`CREDSHARE_LISTEN_PEER`);
//! * a whole section (`CREDSHARE_LOG=json`).
//!
//! Other `CREDSHARE_*` variables without a double underscore (the CLI's
//! `CREDSHARE_CERTS`, `CREDSHARE_SECRET`, …) are not config keys and are
//! left alone.

use super::{ConfigError, ENV_PREFIX};

/// Sections (TOML tables) an override may address.
const SECTIONS: &[&str] = &[
    "listen",
    "tls",
    "signer",
    "log",
    "storage",
    "limits",
    "network",
    "policy",
    "staff",
    "oversight",
    "retention",
    "visits",
    "assessment",
    "membership",
    "discovery",
    "borrower_keys",
    "witness",
];

/// Top-level keys holding a single value.
const TOP_LEVEL_KEYS: &[&str] = &[
    "institution",
    "data_dir",
    "consortium_secret_file",
    "business_time_zone",
];

/// One override applied: the variable and the key path it set.
#[derive(Debug, Clone)]
pub(super) struct Applied {
    var: String,
    path: Vec<String>,
}

/// Applies `CREDSHARE_A__B=value` overrides to a parsed TOML table.
/// Returns what was applied, for [`name_unknown_key`].
pub(super) fn apply_env_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<Applied>, ConfigError> {
    let mut applied = Vec::new();
    let mut env: Vec<(String, String)> = env.into_iter().collect();
    // Deterministic order: the first bad variable named is always the same.
    env.sort();
    for (var, raw) in env {
        let Some(keys) = key_path(&var)? else {
            continue;
        };
        set(table, &var, &keys, parse_env_value(&raw))?;
        applied.push(Applied { var, path: keys });
    }
    Ok(applied)
}

/// The key path `var` addresses, `None` if it is not a config variable.
fn key_path(var: &str) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(path) = var.strip_prefix(ENV_PREFIX) else {
        return Ok(None);
    };
    let err = |message: String| ConfigError::Env {
        var: var.to_owned(),
        message,
    };
    let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
    let first = keys[0].as_str();
    if keys.len() == 1 {
        if TOP_LEVEL_KEYS.contains(&first) {
            return Ok(Some(keys));
        }
        if SECTIONS.contains(&first) {
            return Err(err(format!(
                "`{first}` is a section: set its keys as {ENV_PREFIX}{}__<KEY>",
                first.to_ascii_uppercase()
            )));
        }
        if let Some(section) = SECTIONS
            .iter()
            .find(|s| first.starts_with(&format!("{s}_")))
        {
            let key = &first[section.len() + 1..];
            return Err(err(format!(
                "not a config key; sections and keys are joined by a double underscore: \
                 did you mean {ENV_PREFIX}{}__{}?",
                section.to_ascii_uppercase(),
                key.to_ascii_uppercase()
            )));
        }
        return Ok(None);
    }
    if keys.iter().any(String::is_empty) {
        return Err(err("empty key segment".into()));
    }
    if TOP_LEVEL_KEYS.contains(&first) {
        return Err(err(format!("`{first}` is a key, not a section")));
    }
    if !SECTIONS.contains(&first) {
        return Err(err(format!(
            "unknown config section `{first}` (sections: {})",
            SECTIONS.join(", ")
        )));
    }
    Ok(Some(keys))
}

fn set(
    table: &mut toml::Table,
    var: &str,
    keys: &[String],
    value: toml::Value,
) -> Result<(), ConfigError> {
    let mut current = table;
    for key in &keys[..keys.len() - 1] {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| ConfigError::Env {
            var: var.to_owned(),
            message: format!("`{key}` is not a section"),
        })?;
    }
    current.insert(keys[keys.len() - 1].clone(), value);
    Ok(())
}

/// If a deserialization error is an unknown field that an override set,
/// the error naming that variable and the key.
pub(super) fn name_unknown_key(applied: &[Applied], message: &str) -> Option<ConfigError> {
    applied.iter().find_map(|a| {
        let key = a.path.last()?;
        let needle = format!("unknown field `{key}`");
        let pos = message.find(&needle)?;
        let expected = message[pos + needle.len()..]
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches(", ");
        Some(ConfigError::Env {
            var: a.var.clone(),
            message: format!("unknown config key `{}` ({expected})", a.path.join(".")),
        })
    })
}

fn parse_env_value(raw: &str) -> toml::Value {
    // `x = <raw>` parses for numbers, booleans, arrays and inline tables;
    // anything else is a string. Dates stay strings too: config keys hold
    // ISO dates as text.
    match toml::from_str::<toml::Table>(&format!("x = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("x"))
    {
        Some(toml::Value::Datetime(_)) | None => toml::Value::String(raw.to_owned()),
        Some(value) => value,
    }
}
