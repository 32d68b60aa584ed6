//! Stage 2 of the discovery service end to end: the whole OPRF key split
//! by `credshare discovery share` into the regulator's part and three
//! custodian shares (files 0600; any two recombine to the key, one twice
//! does not); the regulator's service and two custodians' services (real
//! `credshare-node` processes) give a member exactly the stage-1
//! pseudonyms, so enrolments made under the whole key are found without
//! re-enrolment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use credshare_e2e::Consortium;
use credshare_e2e::discovery::*;

/// Stage 2: the whole key split into the regulator's part and three
/// custodian shares; a member combining the regulator and two custodians
/// finds holders enrolled under the stage-1 key (no re-enrolment).
#[test]
fn threshold_evaluation_finds_stage_one_enrolments() {
    let c = &Consortium::new().unwrap();
    for inst in ["DISC-1", "CUST-1", "CUST-3"] {
        service_certs(c, inst);
    }
    let key = c.root().join("oprf.key");
    let v = discovery_ok(c, "", &["keygen", "--out", key.to_str().unwrap()]);
    let public_key = v["public_key"].as_str().unwrap().to_owned();
    let (mut disc, addr) = start_service(c, "DISC-1", &key, &[("PORTFOLIOS", "{BANK-A = 100}")]);
    let file = sample(c, "BANK-A", 5);
    discovery_ok(
        c,
        "BANK-A",
        &[
            "enrol",
            "--discovery",
            &addr,
            "--file",
            file.to_str().unwrap(),
            "--public-key",
            &public_key,
        ],
    );
    let borrower = ids(&file).into_iter().next().unwrap();

    // The ceremony: split, and check the shares recombine to the key.
    let shares = c.root().join("shares");
    discovery_ok(
        c,
        "",
        &[
            "share",
            "--key",
            key.to_str().unwrap(),
            "--out-dir",
            shares.to_str().unwrap(),
        ],
    );
    let share = |n: &str| shares.join(n).display().to_string();
    let recovered = c.root().join("recovered.key");
    let v = discovery_ok(
        c,
        "",
        &[
            "combine",
            "--regulator",
            &share("regulator.key"),
            "--custodian",
            &share("custodian-1.key"),
            "--custodian",
            &share("custodian-3.key"),
            "--public-key",
            &public_key,
            "--out",
            recovered.to_str().unwrap(),
        ],
    );
    assert_eq!(v["public_key"], public_key.as_str());
    use std::os::unix::fs::PermissionsExt;
    for f in [
        "regulator.key",
        "custodian-1.key",
        "custodian-2.key",
        "custodian-3.key",
    ] {
        let mode = std::fs::metadata(shares.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let (code, _, err) = discovery(
        c,
        "",
        &[
            "combine",
            "--regulator",
            &share("regulator.key"),
            "--custodian",
            &share("custodian-1.key"),
            "--custodian",
            &share("custodian-1.key"),
            "--out",
            c.root().join("x.key").to_str().unwrap(),
        ],
    );
    assert_ne!(code, Some(0), "one custodian twice must not combine: {err}");

    // The regulator's service now holds k_R; custodians 1 and 3 their shares.
    disc.stop().unwrap();
    let env: Vec<(String, String)> = vec![
        ("CREDSHARE_DISCOVERY__LISTEN".into(), addr.clone()),
        (
            "CREDSHARE_DISCOVERY__KEY_FILE".into(),
            share("regulator.key"),
        ),
        (
            "CREDSHARE_DISCOVERY__PORTFOLIOS".into(),
            "{BANK-A = 100}".into(),
        ),
    ];
    disc.spawn(&env).unwrap();
    let k1 = PathBuf::from(share("custodian-1.key"));
    let k3 = PathBuf::from(share("custodian-3.key"));
    let (_c1, addr1) = start_service(c, "CUST-1", &k1, &[]);
    let (_c3, addr3) = start_service(c, "CUST-3", &k3, &[]);
    let found = holders(
        c,
        &addr,
        &borrower,
        &[
            "--custodian",
            &addr1,
            "--custodian",
            &addr3,
            "--public-key",
            &public_key,
        ],
    );
    assert_eq!(found, ["BANK-A"]);
    // Stage 1 alone against the regulator's part fails the pinned key.
    let (code, _, err) = discovery(
        c,
        "BANK-A",
        &[
            "lookup",
            "--discovery",
            &addr,
            "--id",
            &borrower,
            "--purpose",
            "loan-approval",
            "--consent-sha256",
            CONSENT,
            "--public-key",
            &public_key,
        ],
    );
    assert_ne!(code, Some(0));
    assert!(err.contains("pinned"), "{err}");
}
