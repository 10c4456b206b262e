//! TLS to the database with rustls, when the URL asks for it: a server that takes TCP only over
//! TLS, with a certificate from a CA of the test's own.

use std::process::Output;

use super::pg;
use crate::support::Sealed;
use crate::support::postgres::Pg;

fn submit(dir: &std::path::Path, url: &str) -> Output {
    Sealed::new(dir)
        .user("dana", "")
        .command()
        .args([
            "--store",
            url,
            "submit",
            "--deployment",
            "web",
            "--evidence",
            "E",
            "--risk",
            "60",
        ])
        .output()
        .unwrap()
}

#[test]
fn sslmode_verify_full_with_sslrootcert_connects_over_tls_and_an_untrusted_or_plain_connection_is_refused()
 {
    if pg().is_none() {
        return;
    }
    let (own, ca) = Pg::start_tls();
    let db = own.new_database();
    let dir = tempfile::tempdir().unwrap();
    let base = format!("postgres://{db}@127.0.0.1:{}/{db}", own.port());
    let ca = ca.display().to_string().replace('/', "%2F");

    let out = submit(
        dir.path(),
        &format!("{base}?sslmode=verify-full&sslrootcert={ca}"),
    );
    assert!(out.status.success(), "over TLS: {out:?}");
    let out = submit(
        dir.path(),
        &format!("{base}?sslmode=require&sslrootcert={ca}"),
    );
    assert!(out.status.success(), "require, with the CA: {out:?}");

    // Without TLS the server has no entry for the connection.
    let out = submit(dir.path(), &base);
    assert_eq!(out.status.code(), Some(1), "plain TCP: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the database"));
    // With TLS but a CA it does not trust (the system's roots), the certificate is refused.
    let out = submit(dir.path(), &format!("{base}?sslmode=require"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "an untrusted certificate: {out:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");

    assert_eq!(
        own.psql(&db, "SELECT count(*) FROM cab_events"),
        "2",
        "the two connections over TLS wrote"
    );
}
